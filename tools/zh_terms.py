"""The Chinese edition's terms and fixed sentences, in one place.

tools/translations.py checks every translation in locales/zh_CN against this list: a message
that writes a variant the edition does not use fails, with the file, the message, the variant
and the term to write instead. docs/zh_style.md gives the reason for each choice; change the
two together.

A ``Term``'s ``forbidden`` entries are regular expressions (Python ``re``) matched in the
translation as written. A match that lies wholly inside a role, a formula or inline code is
not a use (``$\\text{one-hot}$``, ``{glue:text}`focal_n```, ```hinge_loss```); nor is one
inside one of the term's ``allow`` phrases, where the variant is mentioned, not used: a
verbatim quotation of a source article, or the glossary naming another book's term in
quotation marks. ``bad`` is an example of the variant in use; tests/book/test_translations.py
plants it in a catalog and checks that it is reported, so that every entry can fail.

A ``Sentence`` is a message every page has: ``en`` matches the whole English message (named
groups for what each page has of its own), and the translation must be exactly ``zh`` with
those groups filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

HAN = "\u4e00-\u9fff"  # the CJK Unified Ideographs, as a character-class range


@dataclass(frozen=True)
class Term:
    en: str  # the English term, as a report names it
    zh: str  # what the Chinese edition writes
    forbidden: tuple[str, ...]  # regular expressions for the variants it does not write
    bad: str  # an example of a variant in use (the tests plant it)
    allow: tuple[str, ...] = ()  # phrases in which a variant is mentioned, not used


@dataclass(frozen=True)
class Sentence:
    en: str  # a regular expression for the whole English message
    zh: str  # its one translation, str.format()ted with en's named groups


TERMS = (
    # page 03 quotes a source article verbatim, 鲁棒 included
    Term("robust", "稳健", ("鲁棒",), "鲁棒损失", allow=("增强模型的泛化能力和鲁棒性",)),
    Term("one-hot", "独热", ("(?i)one-hot",), "独热目标与 one-hot 向量"),
    Term("zig-zag", "之字形", ("锯齿", "[Zz] ?字[形型]"), "路径呈锯齿状"),
    Term("centring (data, activations)", "中心化", ("居中",), "把输入居中"),
    Term("the source articles", "来源文章", ("(?<!来)源文章",), "一篇源文章"),
    Term(
        "cell (of a notebook)",
        "代码单元（网格的一格：位置、元素、方格）",
        ("单元格",),
        "下面的单元格",
    ),
    Term("hinge loss", "合页损失", ("(?i)hinge",), "hinge 损失", allow=("合页损失（hinge loss）",)),
    Term("focal loss", "焦点损失", ("(?i)focal",), "focal 损失", allow=("焦点损失（focal loss）",)),
    Term(
        "logistic (loss, regression, function)",
        "逻辑（逻辑损失、逻辑回归、逻辑函数）",
        ("(?i)logistic",),
        "logistic 模型",
        allow=(
            "逻辑损失（logistic loss）",
            "逻辑回归（logistic regression）",
            "逻辑函数（logistic function）",
        ),
    ),
    # 全卷积 (网络) is the fully convolutional network, another thing
    Term(
        '"full" convolution', "full 卷积", ("全卷积", "“全”卷积", "“full” ?卷积"), "卷积核的全卷积"
    ),
    Term("logit", "logit", ("对数几率",), "softmax 的对数几率", allow=("对数几率（log-odds）",)),
    # the glossary names d2l-zh's terms in quotation marks
    Term(
        "batch normalisation",
        "批归一化",
        ("批量规范化", "批量归一化", "批量标准化", "批标准化", "批规范化"),
        "批量规范化层",
        allow=("“批量规范化”",),
    ),
    Term("layer normalisation", "层归一化", ("层规范化", "层标准化"), "层规范化"),
    Term(
        "batch size",
        "批大小",
        ("批量大小", "批次大小", "批尺寸"),
        "批量大小为 64",
        allow=("“批量大小”",),
    ),
    Term("notebook", "笔记本", ("(?i)notebook",), "下载为 notebook"),
    Term("cure, remedy", "对策、补救办法", ("解药", "治疗"), "真正的解药是学习率"),
    # 58 分之一, $4$ 分之一, {glue:text}`x` 分之一; 缩小 4 倍, read as 1/4 by some, 1/5 by others
    Term(
        "N times smaller",
        "原来的 1/N，除以 N，或把比较倒过来：……是……的 N 倍",
        (r"[0-9$`]\s*分之", r"(缩小|减小|降低|减少)了?\s*(\d|\$|\{glue)[^，。；：（）]*?倍"),
        "只有原来的 $4$ 分之一",
    ),
    Term(
        "(spacing) Chinese beside a Latin letter or a digit",
        "a space between them",
        (f"[{HAN}][A-Za-z0-9]", f"[A-Za-z0-9][{HAN}]"),
        "批大小为64",
    ),
    Term(
        "(spacing) two Chinese characters",
        "no space between them",
        (f"[{HAN}] +[{HAN}]",),
        "和 逻辑损失",
    ),
)

SENTENCES = (
    Sentence(
        r"Download it as a notebook, (?P<ipynb>\{download\}`[^`]+`) \(with its outputs\), or as "
        r"its MyST Markdown source, (?P<md>\{download\}`[^`]+`) \(opens as a notebook with "
        r"jupytext\)\. In Jupyter, Colab or Binder, run its first code cell before the others: "
        r"it installs what the page needs and is missing\.",
        "可以将本页下载为笔记本 {ipynb}（含输出），或下载其 MyST Markdown 源文件 {md}"
        "（可用 jupytext 作为笔记本打开）。在 Jupyter、Colab 或 Binder 中，请先运行它的第一个"
        "代码单元：它会安装本页所需而尚未安装的软件包。",
    ),
)
