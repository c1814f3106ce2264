"""The PDF editions (Sphinx's LaTeX builder with xelatex; tools/pdf.py runs it).

- Chinese characters, in the Chinese edition and in the English glossary's term names, are
  set by xeCJK in the Noto CJK fonts (Debian's fonts-noto-cjk), next to Sphinx's own xelatex
  fonts (FreeSerif, FreeSans, FreeMono). In the English edition curly quotes, dashes and
  the ellipsis stay with the text font.
- The Chinese edition's headings are Chinese: 目录, 第 I 部分, 第 1 章, 参考文献.
- sphinx-jupyterbook-latex loads ucharclasses, which here declares character classes and
  does nothing else; it takes over the same XeTeX mechanism as xeCJK, so it is dropped.
- The intro's pages get empty running heads instead of the table of contents' ones.
- Tables are set ragged right and a size smaller, with no column narrower than a word
  like "LeakyReLU".
- A glued value does not break across lines (a line break at the hyphen of "1.7e-17" would
  split the number, and text extraction would read it as "1.7e17").
- sphinx-exercise labels an exercise ``exercise:<label>`` in LaTeX, while a ``{ref}`` to
  it points at ``<page>:<label>`` (as Sphinx's own labels do), which stayed undefined ("??"
  in the PDF). The exercise gets that label too.
"""

from __future__ import annotations

from sphinx.builders.latex.constants import XELATEX_DEFAULT_FONTPKG
from sphinx_exercise import nodes as exercise_nodes

# (Chinese has no italics: emphasis inside Chinese text stays upright, said here so that
# xeCJK does not look for an italic font and warn.)
CJK_FONTS = r"""
\setCJKmainfont{Noto Serif CJK SC}[ItalicFont={Noto Serif CJK SC}]
\setCJKsansfont{Noto Sans CJK SC}[ItalicFont={Noto Sans CJK SC}]
\setCJKmonofont{Noto Sans Mono CJK SC}[ItalicFont={Noto Sans Mono CJK SC}]
"""


# In the English edition xeCJK sets only the Chinese term names: by default it would also
# take the curly quotes, dashes, the ellipsis and the middle dot for Chinese punctuation and
# set them full width from the CJK font ("the batch’ s"), so they stay with the text font.
ENGLISH_XECJK = r"""
\usepackage{xeCJK}
\xeCJKDeclareCharClass{Default}{"00B7, "2013, "2014, "2018, "2019, "201C, "201D, "2026}
"""

# The intro page comes between the table of contents and the first part, with no chapter
# heading of its own: without this its pages' running heads would still say "Contents".
INTRO_MARKS = r"""
\makeatletter
\g@addto@macro\sphinxtableofcontents{\markboth{}{}}
\makeatother
"""

# The Chinese edition's headings: 目录, 第 I 部分, 第 1 章, 参考文献 (babel knows no Chinese, so
# Sphinx sets English captions; its own messages, 图 and 表, are Chinese already), and the
# running footers' 第 1 章 (Sphinx's \chaptermark puts \@chappos after the number, as Japanese
# has it; without it the footers said "Chapter 1."). The part's heading is patched before
# hyperref and nameref wrap \@part, so with the fonts.
CHINESE_PART = r"""
\usepackage{etoolbox}
\makeatletter
\patchcmd{\@part}{\partname\nobreakspace\thepart}{第\,\thepart\,部分}{}{}
\makeatother
\renewcommand{\bibname}{参考文献}
"""
CHINESE_HEADINGS = r"""
\addto\captionsenglish{\renewcommand{\contentsname}{目录}}
\addto\captionsenglish{\renewcommand{\chaptername}{第}}
\makeatletter
\def\@chappos{章}
\ChNameAsIs
\ChNameVar{\raggedleft\normalsize\def\@chapapp{第}}
\ChNumVar{\raggedleft\bfseries\Large\def\thechapter{\arabic{chapter}\,章}}
\makeatother
"""


# Tables: Sphinx's T columns are tabulary's J (justified), which leaves wide gaps between
# the words of a narrow column, and its narrowest column is three digits wide: in page 02's
# eight-column table "LeakyReLU" and a formula ran into the next column and out of the
# page. Ragged right, a smaller font and less space between the columns, and no column
# narrower than such a word (tabulary lowers this minimum where the columns cannot all
# have it). tests/book/test_pdf.py fails on any overfull box.
# A glued value is set in one piece: "1.7e-17" must not break at its hyphen
GLUED = r"""
\expandafter\def\csname DUrolepasted-text\endcsname#1{\mbox{#1}}
"""

TABLES = r"""
\usepackage{etoolbox}
\newcolumntype{T}{L}
\setlength{\tymin}{5em}
\AtBeginEnvironment{tabulary}{\small\setlength{\tabcolsep}{4pt}}
"""


def _latex_settings(app, config):
    elements = config.latex_elements
    chinese = (config.language or "en").startswith("zh")
    # Sphinx loads xeCJK itself for Chinese (its 'fontenc' for zh with xelatex)
    xecjk = "" if chinese else ENGLISH_XECJK
    chinese_part = CHINESE_PART if chinese else ""
    elements.setdefault("fontpkg", XELATEX_DEFAULT_FONTPKG + xecjk + CJK_FONTS + chinese_part)
    preamble = elements.get("preamble", "").replace(r"\usepackage[Latin,Greek]{ucharclasses}", "")
    preamble += INTRO_MARKS + TABLES + GLUED
    if chinese:  # after sphinx-jupyterbook-latex's own \contentsname
        preamble += CHINESE_HEADINGS
    elements["preamble"] = preamble


def _exercise_label(self, node) -> str:
    docname = self.builder.env.sphinx_exercise_registry[node["label"]]["docname"]
    return r"\phantomsection\label{\detokenize{" + f"{docname}:{node['label']}" + "}}"


def _visit_exercise(self, node):
    self.body.append(_exercise_label(self, node))
    exercise_nodes.visit_exercise_node(self, node)


def _visit_exercise_enumerable(self, node):
    self.body.append(_exercise_label(self, node))
    exercise_nodes.visit_exercise_enumerable_node(self, node)


def setup(app):
    app.setup_extension("sphinx_exercise")
    # after sphinx-jupyterbook-latex's own config-inited handler, which adds ucharclasses
    app.connect("config-inited", _latex_settings, priority=900)
    app.add_node(exercise_nodes.exercise_node, override=True,
                 latex=(_visit_exercise, exercise_nodes.depart_exercise_node))  # fmt: skip
    app.add_node(exercise_nodes.exercise_enumerable_node, override=True,
                 latex=(_visit_exercise_enumerable,
                        exercise_nodes.depart_exercise_enumerable_node))  # fmt: skip
    return {"parallel_read_safe": True, "parallel_write_safe": True}
