"""The Chinese edition (locales/zh_CN, tools/i18n.py): complete, in step with the English
prose, and showing the same glued numbers as the English pages."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sphinx_book_theme
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from tests.book.support import ROOT
from tools import i18n, translations, zh_terms

CATALOGS = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
PASTED = re.compile(r'<span class="pasted-text">(.*?)</span>', re.DOTALL)


def _ids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_every_message_is_translated_and_keeps_its_markup():
    """... and writes the edition's terms and fixed sentences (tools/zh_terms.py)."""
    found = [p for path in sorted(CATALOGS.rglob("*.po")) for p in translations.problems(path)]
    assert not found, "\n".join(found[:40])


def test_markup_check_catches_a_changed_role_or_formula():
    assert translations.markup("a {glue:text}`x` and $y$ and `z`") == translations.markup(
        "甲 `z`，$y$ 与 {glue:text}`x`"
    )
    assert translations.markup("{glue:text}`x`") != translations.markup("{glue:text}`y`")
    assert translations.markup("$a+b$") != translations.markup("$a + b$")
    assert translations.markup("{ref}`text <label>`") == translations.markup("{ref}`文字 <label>`")
    assert translations.markup("{ref}`text <label>`") != translations.markup("{ref}`text <other>`")
    assert translations.markup("{cite}`a,b`") != translations.markup("{cite}`a`")


def _catalog(folder: Path, messages: list[tuple[str, str]]) -> Path:
    """A page's catalog holding ``messages`` (English, Chinese), written as `make
    translations` writes one (babel, no line wrapping)."""
    catalog = Catalog(locale=i18n.LANGUAGE)
    for english, chinese in messages:
        catalog.add(english, chinese)
    po = folder / "page.po"
    with open(po, "wb") as f:
        write_po(f, catalog, width=0)
    return po


@pytest.mark.parametrize("term", zh_terms.TERMS, ids=lambda term: term.en)
def test_term_check_catches_each_forbidden_variant(tmp_path, term):
    """Each entry of tools/zh_terms.py can fail: its example of a variant in use, planted in
    a catalog, is reported with the file, the message, the variant and the Chinese to write.
    The same words inside inline code, and the entry's allowed phrases, are not reported."""
    po = _catalog(tmp_path, [("A planted sentence.", f"一句话：{term.bad}。"),
                             ("In code: `x`.", f"代码中：`{term.bad}`。"),
                             *[(f"Allowed {i}.", f"可以：{phrase}。")
                               for i, phrase in enumerate(term.allow)]])  # fmt: skip
    reports = [r for r in translations.problems(po) if f" for {term.en!r} in " in r]
    assert len(reports) >= 1, f"{term.bad!r} was not reported as a variant of {term.en!r}"
    for report in reports:
        assert report.startswith(f"{po}: ") and "'A planted sentence.'" in report, report
        assert report.endswith(f"write {term.zh!r} (docs/zh_style.md)"), report
        variant = re.match(rf"{re.escape(str(po))}: '(.+?)' for ", report)
        assert variant and variant.group(1) in term.bad, report


def test_term_check_passes_the_edition_s_own_words():
    """The preferred terms themselves, in the sentences the catalogs have, are no variant."""
    text = ("稳健损失与独热向量；路径呈之字形；把输入中心化；来源文章；下面的代码单元；合页损失、"
            "焦点损失和逻辑回归；翻转后卷积核的 full 卷积；softmax 的 logit；批归一化、层归一化，"
            "批大小为 {glue:text}`batch`；下载为笔记本；对策在于学习率；只有原来的 1/{glue:text}`k`，"
            "或除以 $4$；不到百分之一，约三分之一。$\\text{one-hot}$ 与 `hinge_loss`。")  # fmt: skip
    assert translations.term_uses(text) == []


def test_every_page_has_the_sentence_each_rule_fixes():
    """A rule whose English no page has any more would check nothing."""
    for sentence in translations.SENTENCES:
        pages = []
        for path in sorted((CATALOGS / "chapters").glob("*.po")):
            with path.open("rb") as f:
                if any(m.id and re.fullmatch(sentence.en, m.id) for m in read_po(f)):
                    pages.append(path.stem)
        assert len(pages) == len(list((ROOT / "chapters").glob("*.md"))), sentence.en[:60]


def test_sentence_check_catches_another_wording_of_the_download_line(tmp_path):
    english = ("Download it as a notebook, {download}`p.ipynb <p.ipynb>` (with its outputs), or "
               "as its MyST Markdown source, {download}`p.md <p.md>` (opens as a notebook with "
               "jupytext). In Jupyter, Colab or Binder, run its first code cell before the "
               "others: it installs what the page needs and is missing.")  # fmt: skip
    expected = translations.expected_sentence(english)
    assert expected is not None and "{download}`p.ipynb <p.ipynb>`" in expected
    other = expected.replace("请先运行它的第一个代码单元", "请首先运行第一个代码单元")
    assert other != expected
    assert translations.problems(_catalog(tmp_path, [(english, expected)])) == []
    (report,) = translations.problems(_catalog(tmp_path, [(english, other)]))
    assert "is not worded as on every other page" in report and expected in report


@pytest.fixture(scope="module")
def english_messages(tmp_path_factory):
    """The messages of the English pages as they are now (Sphinx's gettext builder)."""
    out = tmp_path_factory.mktemp("gettext")
    i18n.sphinx("gettext", out)
    return {pot.relative_to(out).with_suffix(".po"): _ids(pot) for pot in out.rglob("*.pot")}


def test_catalogs_follow_the_english_prose(english_messages):
    """An English sentence changed without `make translations` (and its translation) fails."""
    catalogs = {p.relative_to(CATALOGS): _ids(p) for p in CATALOGS.rglob("*.po")}
    assert set(catalogs) == set(english_messages), "pages without a catalog, or the reverse"
    for name, messages in english_messages.items():
        new = messages - catalogs[name]
        gone = catalogs[name] - messages
        assert not new and not gone, (
            f"{name}: run `make translations` and translate: {len(new)} new or changed "
            f"English messages (e.g. {sorted(new)[:1]}), {len(gone)} no longer in the book"
        )


@pytest.fixture(scope="module")
def editions(book):
    """Both editions as `make book` builds them (the Chinese one in zh_CN/ inside the
    English one, both with -W -n), once per test run (tests/conftest.py)."""
    return book.html, book.chinese


def _pages(root: Path) -> list[Path]:
    """The site's pages (not the copies with planted faults that tests/book/test_browser.py adds
    to the same build)."""
    skip = {"_static", "_sources", "_images", "_downloads", "zh_CN"}
    return sorted(p.relative_to(root) for p in root.rglob("*.html")
                  if not skip & set(p.relative_to(root).parts[:-1])
                  and not p.name.startswith("planted-"))  # fmt: skip


def test_chinese_pages_show_the_english_pages_glued_numbers(editions):
    english, chinese = editions
    assert _pages(english) == _pages(chinese)
    checked = 0
    for page in _pages(english):  # the same numbers; Chinese word order may change their order
        en = Counter(PASTED.findall((english / page).read_text()))
        assert Counter(PASTED.findall((chinese / page).read_text())) == en, page
        checked += en.total()
    assert checked > 500  # the chapters glue hundreds of numbers into their prose


def test_chinese_pages_are_chinese_and_link_both_ways(editions):
    english, chinese = editions
    pages = [p for p in _pages(chinese) if p.parts[0] == "chapters"] + [Path("intro.html")]
    for page in pages:
        html = (chinese / page).read_text()
        assert '<html lang="zh-CN"' in html, page
        article = re.sub(r"<[^>]+>", " ", html.split("<article", 1)[1])
        han = len(re.findall(r"[\u4e00-\u9fff]", article))
        assert han > 200, f"{page}: only {han} Chinese characters in the article"
        author = re.search(r'<p class="component-author">\s*(.*?)\s*</p>', html, re.S)
        assert author and author.group(1) == f"作者： {i18n.AUTHOR}", page
        for here, there in ((chinese, english), (english, chinese)):
            link = re.search(r'<p class="language-link"><a href="([^"]+)"',
                             (here / page).read_text())  # fmt: skip
            assert link, f"{here / page} has no link to the other edition"
            assert ((here / page).parent / link.group(1)).resolve() == (there / page).resolve()


def test_chinese_search_finds_chinese_words(editions):
    """Sphinx's Chinese search splits the text with jieba; without it no Chinese word would
    be in the index and a Chinese query would find nothing."""
    _, chinese = editions
    script = (chinese / "searchindex.js").read_text()
    index = json.loads(script[script.index("(") + 1 : script.rindex(")")])
    for word in ("梯度", "激活函数", "反向传播", "损失函数", "梯度消失", "梯度爆炸", "池化"):
        pages = index["terms"].get(word)
        assert pages, f"{word} is not in the search index"
        assert isinstance(pages, int) or len(pages) >= 3, f"{word} is found on {pages} only"


# The theme's words on a page: what is outside the page's own text (its article, its title,
# the navigation's links to pages and sections), as text or as a tooltip or label.
NOT_THEME = re.compile(r'<article class="bd-article".*?</article>|<script.*?</script>'
                       r"|<style.*?</style>|<title>.*?</title>", re.S)  # fmt: skip
UI_ATTRIBUTES = {"title", "aria-label", "placeholder", "data-bs-title", "alt"}
HAN = re.compile(r"[\u4e00-\u9fff]")


class _ThemeWords(HTMLParser):
    def __init__(self):
        super().__init__()
        self.words, self.inside = [], []  # inside: the open <a> and <h1> (page titles)

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "h1"):
            self.inside.append(tag)
        if tag != "a":  # a link's title is the title of the page it leads to
            self.words += [v.strip() for k, v in attrs if k in UI_ATTRIBUTES and v and v.strip()]

    def handle_endtag(self, tag):
        if tag in ("a", "h1") and self.inside:
            self.inside.pop()

    def handle_data(self, data):
        if not self.inside and data.strip():
            self.words.append(data.strip())


def theme_words(html: str) -> list[str]:
    parser = _ThemeWords()
    parser.feed(NOT_THEME.sub(" ", html))
    return parser.words


def english_theme_words(html: str) -> set[str]:
    """The theme's words on a page that have no Chinese in them but an English word (three
    letters or more): not the keyboard's Ctrl, not a file suffix such as .ipynb."""
    return {w for w in theme_words(html)
            if re.search(r"[A-Za-z]{3,}", w) and not HAN.search(w)
            and w != "Ctrl" and not re.fullmatch(r"\.\w+", w)}  # fmt: skip


def test_the_theme_speaks_chinese_in_the_chinese_edition(editions):
    """Tooltips, labels, the search box and the footer (_ext/theme_i18n.py). The same check
    finds the English words on every English page, so it can see them."""
    english, chinese = editions
    for page in _pages(chinese):
        html = (chinese / page).read_text()
        assert not english_theme_words(html), page
        assert "列印" not in html, page  # sphinx-book-theme's zh_CN word for "print"
        english_html = (english / page).read_text()
        assert english_theme_words(english_html) or 'http-equiv="Refresh"' in english_html, page
    page = Path("chapters/04_measuring_error.html")
    assert {"打印为 PDF", "搜索本书……", "© 版权所有 2026。", "显示或隐藏导航栏", "全书导航"} <= set(
        theme_words((chinese / page).read_text())
    )
    assert {"Print to PDF", "Search this book...", "© Copyright 2026.", "Toggle primary sidebar",
            "Main", "Color mode"} <= set(theme_words((english / page).read_text()))  # fmt: skip


def test_the_book_s_theme_templates_differ_only_in_the_words_they_mark():
    """_templates/ holds copies of sphinx-book-theme templates that write words in English
    only; the copies wrap them in _() and change nothing else (a newer theme would show)."""
    theme = Path(sphinx_book_theme.__file__).parent / "theme" / "sphinx_book_theme"
    copies = sorted((ROOT / "_templates").glob("*.html"))
    assert [p.name for p in copies] == ["layout.html", "sbt-sidebar-nav.html",
                                        "toggle-primary-sidebar.html",
                                        "toggle-secondary-sidebar.html"]  # fmt: skip
    for copy in copies:
        folder = theme if copy.name == "layout.html" else theme / "components"
        original = (folder / copy.name).read_text()
        marked = copy.read_text()
        assert '{{ _("' in marked, copy.name
        assert re.sub(r'\{\{ _\("([^"]+)"\) \}\}', r"\1", marked) == original, copy.name


def test_a_message_that_is_a_number_is_translated_as_itself(tmp_path):
    """A changed number in a printed table is a changed message: `make translations` gives it
    its own value instead of a fuzzy old one, and leaves every other message alone."""
    po = tmp_path / "page.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#, fuzzy\nmsgid "209.8"\nmsgstr "209.9"\n\n'
        'msgid "7.4%"\nmsgstr ""\n\n'
        'msgid "-1.5e-03"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "test RMSE"\nmsgstr "旧的"\n\n'
        'msgid "3 epochs"\nmsgstr ""\n',
        encoding="utf-8",
    )
    assert i18n.fill_numbers(po) == 3
    with open(po, "rb") as f:
        messages = {m.id: m for m in read_po(f) if m.id}
    for number in ("209.8", "7.4%", "-1.5e-03"):
        assert messages[number].string == number and not messages[number].fuzzy
    assert messages["test RMSE"].fuzzy and messages["test RMSE"].string == "旧的"
    assert messages["3 epochs"].string == ""
    assert i18n.fill_numbers(po) == 0


def _translated_doctree(folder: Path, extensions: list[str]):
    """A one-page MyST project translated into Chinese, built with MyST's parser (as the
    book's pages are parsed) and ``extensions`` from _ext/; returns the page's pickled
    doctree, loaded."""
    src = folder / "src"
    mo = src / "locales" / i18n.LANGUAGE / "LC_MESSAGES" / "page.mo"
    mo.parent.mkdir(parents=True)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\n"
        f"extensions = {['myst_parser', *extensions]!r}\n"
        "locale_dirs = ['locales']\ngettext_compact = False\nroot_doc = 'page'\n"
    )
    (src / "page.md").write_text("# Title\n\nA *first* sentence.\n\nA second one.\n")
    catalog = Catalog(locale=i18n.LANGUAGE)
    catalog.add("Title", "标题")
    catalog.add("A *first* sentence.", "第一个*句子*。")
    catalog.add("A second one.", "第二个。")
    with open(mo, "wb") as f:
        write_mo(f, catalog)
    doctrees = folder / "doctrees"
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-D",
                    f"language={i18n.LANGUAGE}", "-d", str(doctrees), str(src),
                    str(folder / "html")], check=True)  # fmt: skip
    return pickle.loads((doctrees / "page.doctree").read_bytes())


def test_translated_pages_do_not_store_the_build_environment(tmp_path):
    """Sphinx parses every translated message as a document of its own, whose settings hold
    the build environment; _ext/i18n_glue.py gives the nodes to the page, so the pickled page
    holds no copy of the environment (it made the Chinese builds' doctrees grow with every
    page read, to 2.9 MB for the last chapter). Without the extension the copy is there."""

    def foreign(doctree):
        return [n for n in doctree.findall() if n.document is not doctree]

    plain = _translated_doctree(tmp_path / "plain", [])
    assert "第一个" in plain.astext()
    assert foreign(plain) and any(n.document.settings.env is not None for n in foreign(plain))
    page = _translated_doctree(tmp_path / "fixed", ["i18n_glue"])
    assert "第一个" in page.astext() and "第二个" in page.astext()
    assert not foreign(page)
