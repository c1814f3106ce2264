"""The book as PDF, in English and in Chinese, from the stored, verified notebook outputs.

    python -m tools.pdf            # _build/pdf/book.pdf and _build/pdf/book-zh_CN.pdf
    python -m tools.pdf en         # one edition

Sphinx's LaTeX builder writes each edition's .tex with the book's one configuration (read
through tools/i18n.py, so _config.yml stays the single source), sphinx-jupyterbook-latex
turns the table of contents' captions into numbered parts, and latexmk runs xelatex
(Jupyter Book 1.x would default to pdflatex, which cannot set Chinese). Nothing here uses
the network. The TeX toolchain is Debian's (`make pdf-deps`).

The title page is dated with the last commit's date (``SOURCE_DATE_EPOCH``, which Sphinx
reads, unless it is set already): the date of the text the PDF prints, so two builds of one
commit on different days make the same title page. Outside a git checkout it is the day of
the build.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tools import i18n

ROOT = i18n.ROOT
OUT = ROOT / "_build" / "pdf"  # where the HTML build looks for it (_ext/language_links.py)
EDITIONS = ("en", i18n.LANGUAGE)

sys.path.insert(0, str(ROOT / "_ext"))
from language_links import pdf_name  # noqa: E402  (book.pdf, book-zh_CN.pdf)

# jupyterBook.cls (sphinx-jupyterbook-latex) loads the bbm package for its \RR-style macros,
# which the book never uses. Debian ships bbm only in texlive-fonts-extra (about 1.4 GB), so
# each LaTeX folder gets this stand-in: blackboard bold from amssymb, which is installed.
BBM_STANDIN = r"""\NeedsTeXFormat{LaTeX2e}
\ProvidesPackage{bbm}[2026/11/28 stand-in: blackboard bold from amssymb (tools/pdf.py)]
\RequirePackage{amssymb}
\providecommand{\mathbbm}[1]{\mathbb{#1}}
"""


def _conf_extra() -> str:
    """latex_documents for the builds run here (`jupyter-book build --builder pdflatex`
    would make the same from _config.yml's `latex:` section)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    target = config["latex"]["latex_documents"]["targetname"]
    document = ("intro", target, config["title"], config["author"], "jupyterBook", False)
    return f"latex_documents = [{document!r}]\n"


def latex(edition: str, folder: Path) -> Path:
    """Sphinx's LaTeX output of one edition in ``folder``; returns the .tex file."""
    shutil.rmtree(folder, ignore_errors=True)
    language = i18n.CHINESE if edition != "en" else []
    i18n.sphinx("latex", folder, *language, "-W", "-n", "--keep-going",
                conf_extra=_conf_extra())  # fmt: skip
    (folder / "bbm.sty").write_text(BBM_STANDIN)
    return folder / "book.tex"


# -xelatex: latexmk's XeLaTeX mode, as the Makefile Sphinx writes advises ("for faster
# builds"): the passes write only .xdv files and xdvipdfmx makes the PDF once, at the end,
# where the default rule made a whole PDF, with its fonts embedded, at every pass (the
# Chinese edition: 40.7 s against 33.4 s, the same text and fonts).
LATEXMKOPTS = "-xelatex -interaction=nonstopmode -halt-on-error -file-line-error"


def compile_pdf(tex: Path) -> Path:
    """The Makefile Sphinx writes (latexmk with xelatex, xindy for the index), stopping at
    the first error; returns the PDF."""
    log = tex.with_suffix(".latexmk.log")
    with open(log, "w") as out:
        result = subprocess.run(
            ["make", "-C", str(tex.parent), "all-pdf", f"LATEXMKOPTS={LATEXMKOPTS}"],
            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    if result.returncode != 0:
        text = log.read_text(errors="replace")
        errors = re.findall(r"^.*:\d+: .*$|^! .*$", text, flags=re.M)
        sys.exit(f"latexmk failed on {tex} (see {log}):\n" + "\n".join(errors[:20]))
    return tex.with_suffix(".pdf")


def build(edition: str, out: Path = OUT, work: Path = ROOT / "_build" / "latex") -> Path:
    """One edition's PDF, made in ``work``/<edition> and copied to ``out`` in one step (an
    HTML build running meanwhile copies either the old file or the new one, never a part)."""
    pdf = compile_pdf(latex(edition, work / edition))
    out.mkdir(parents=True, exist_ok=True)
    target = out / pdf_name(edition)
    partial = target.with_suffix(".pdf.partial")
    shutil.copyfile(pdf, partial)
    os.replace(partial, target)
    return target


TOOLS = ("xelatex", "latexmk", "xindy", "make")


def commit_epoch() -> str | None:
    """The last commit's time (seconds since 1970, as ``SOURCE_DATE_EPOCH`` takes it), or
    None outside a git checkout."""
    try:
        result = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    except OSError:  # no git
        return None
    epoch = result.stdout.strip()
    return epoch if result.returncode == 0 and epoch.isdigit() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("editions", nargs="*", metavar="edition", help=" or ".join(EDITIONS))
    args = parser.parse_args()
    for edition in args.editions:
        if edition not in EDITIONS:
            parser.error(f"edition: expected one of {', '.join(EDITIONS)}, got {edition!r}")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        sys.exit(f"not found: {', '.join(missing)} (`make pdf-deps` installs Debian's TeX Live)")
    epoch = commit_epoch()
    if epoch is not None:
        os.environ.setdefault("SOURCE_DATE_EPOCH", epoch)
    for edition in args.editions or EDITIONS:
        print(f"PDF ({edition}): {build(edition)}")


if __name__ == "__main__":
    main()
