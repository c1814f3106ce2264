"""The PDF editions (`make pdf`, tools/pdf.py): both build offline from the stored outputs, and
the text a reader sees in them is the book's, complete and resolved.

The fixture runs what `make pdf` runs, into _build/pdf/ (so that `make test`'s own book build
afterwards links to the PDFs), without a network interface where one can be dropped. Reading
the PDFs uses poppler's pdftotext, pdffonts and pdfinfo.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

from tests.book.support import ROOT
from tools import i18n, pdf
from tools.notebooks import toc_chapters
from tools.pdf import pdf_name

CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
EPOCH = "SOURCE_DATE_EPOCH"
TOOLS = (*pdf.TOOLS, "pdftotext", "pdffonts", "pdfinfo")  # building, then reading back
PASTED_HTML = re.compile(r'<span class="pasted-text">(.*?)</span>', re.DOTALL)


@pytest.fixture(scope="module")
def pdfs(network_off) -> dict[str, Path]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (make pdf-deps installs Debian's)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must build the PDF")
        pytest.skip(message)
    # `make pdf`'s command, with no network interface where one can be dropped
    command = [sys.executable, "-m", "tools.pdf"]
    if network_off:
        command = ["unshare", "-n", *command]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {edition: pdf.OUT / pdf_name(edition) for edition in pdf.EDITIONS}


def _text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def _flat(text: str) -> str:
    """Text without whitespace: pdftotext breaks lines where LaTeX did."""
    return re.sub(r"\s+", "", text)


def _latex_folder(edition: str) -> Path:
    return ROOT / "_build" / "latex" / edition


def _toc_chapters() -> list[str]:
    """The chapters' files in the table of contents' order, as _toc.yml names them."""
    return toc_chapters(ROOT / "_toc.yml")


def _titles(edition: str) -> list[str]:
    titles = [re.search(r"^# (.+)$", md.read_text(), re.M).group(1) for md in CHAPTERS]
    if edition == "en":
        return titles
    catalogs = ROOT / "locales" / edition / "LC_MESSAGES" / "chapters"
    translated = []
    for md, title in zip(CHAPTERS, titles, strict=True):
        with open(catalogs / f"{md.stem}.po", "rb") as f:
            message = read_po(f)[title]
        assert message is not None and message.string, f"{md.stem}: title not translated"
        translated.append(message.string)
    return translated


def _plain(title: str) -> str:
    """A heading's text as the PDF shows it: MyST's inline code and emphasis marks gone."""
    return re.sub(r"[`*]", "", title)


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_every_chapter_and_part_is_in_the_pdf(pdfs, edition):
    text = _flat(_text(pdfs[edition]))
    titles = _titles(edition)
    assert len(titles) == len(CHAPTERS) == len(_toc_chapters())
    for title in titles:
        assert _flat(_plain(title)) in text, title
    outline = (_latex_folder(edition) / "book.out").read_text()  # hyperref's PDF bookmarks
    assert outline.count("{chapter.") >= len(titles) + 3  # and claims, glossary, references
    parts = yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]
    assert len(re.findall(r"^\\BOOKMARK \[-1\]\[-\]\{part\.", outline, re.M)) == len(parts)


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_the_l1_example_prints_its_verified_outputs(pdfs, edition):
    text = _flat(_text(pdfs[edition]))
    assert _flat("tensor(0.6667, dtype=torch.float64)") in text
    assert _flat("tensor(2., dtype=torch.float64)") in text


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_the_install_cells_a_reader_runs_first_are_not_printed(pdfs, edition):
    text = _flat(_text(pdfs[edition]))
    assert "find_spec" not in text and "Runthiscellfirst" not in text
    assert _flat("nnlib.seed_everything(0)") in text  # the cell after it is printed


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_references_resolve_and_latex_reported_no_problem(pdfs, edition):
    text = _text(pdfs[edition])
    assert "??" not in text  # LaTeX's mark for a reference it could not resolve
    log = (_latex_folder(edition) / "book.log").read_text(errors="replace")
    for problem in ("LaTeX Error", "Undefined control sequence", "Emergency stop",
                    "There were undefined references", "Missing character"):  # fmt: skip
        assert problem not in log  # (a missing character is a glyph drawn as nothing)
    assert not re.search(r"Citation .* undefined", log)
    # nothing set wider than its box: a word running into the next table column, or a
    # line into the margin
    overfull = re.findall(r"^Overfull \\hbox .*\n.*$", log, re.M)
    assert not overfull, "\n".join(overfull[:10])


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_exercises_come_with_their_solutions(pdfs, edition):
    exercises = sum(md.read_text().count("```{exercise}") for md in CHAPTERS)
    solutions = sum(md.read_text().count("```{solution-start}") for md in CHAPTERS)
    assert exercises == solutions > 30
    text = _text(pdfs[edition])
    word = {"en": "Solution to Exercise", "zh_CN": "解答练习"}[edition]
    numbers = [int(n) for n in re.findall(word + r"\s*(\d+)", text)]
    assert numbers == list(range(1, exercises + 1))


def _tex_pasted(tex: str) -> dict[str, Counter]:
    """The glued values in Sphinx's LaTeX, page by page (the page's `::doc` label starts it),
    with LaTeX's escapes undone."""
    pages: dict[str, Counter] = {}
    page = None
    marker = re.compile(r"\\label\{\\detokenize\{([^}]*)::doc\}\}|\\DUrole\{pasted-text\}\{")
    position = 0
    while (match := marker.search(tex, position)) is not None:
        position = match.end()
        if match.group(1) is not None:
            page = match.group(1)
            pages.setdefault(page, Counter())
            continue
        depth, end = 1, position
        while depth:
            depth += {"{": 1, "}": -1}.get(tex[end], 0) if tex[end - 1] != "\\" else 0
            end += 1
        value = tex[position : end - 1]
        for latex, plain in ((r"\sphinxhyphen{}", "-"), (r"\%", "%"), (r"\_", "_"),
                             (r"\textasciitilde{}", "~"), (r"\&", "&"), (r"\#", "#"),
                             (r"\textless{}", "<"), (r"\textgreater{}", ">")):  # fmt: skip
            value = value.replace(latex, plain)
        pages[page][value] += 1
    return pages


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_glued_numbers_equal_the_html_books(pdfs, book, edition):
    """Each page's glued values in the PDF are the HTML page's, as a multiset, and they are
    in the PDF's text."""
    tex = _tex_pasted((_latex_folder(edition) / "book.tex").read_text())
    site = book.html if edition == "en" else book.chinese
    text = _flat(_text(pdfs[edition]))
    checked = 0
    for page, values in tex.items():
        page_html = (site / f"{page}.html").read_text()
        in_html = Counter(html.unescape(re.sub(r"<[^>]+>", "", v))
                          for v in PASTED_HTML.findall(page_html))  # fmt: skip
        assert values == in_html, page
        for value in values:
            assert _flat(value) in text, (page, value)
        checked += values.total()
    assert checked > 500


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_every_font_is_embedded(pdfs, edition):
    rows = subprocess.run(["pdffonts", str(pdfs[edition])], capture_output=True, text=True,
                          check=True).stdout.splitlines()[2:]  # fmt: skip
    assert rows
    # columns: name, type (one or two words), encoding, emb, sub, uni, object ID
    not_embedded = [row for row in rows if row.split()[-5] != "yes"]
    assert not not_embedded


def test_the_chinese_pdf_is_chinese_in_a_cjk_font(pdfs):
    text = _text(pdfs[i18n.LANGUAGE])
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    assert han > 50_000, han
    fonts = subprocess.run(["pdffonts", str(pdfs[i18n.LANGUAGE])], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert "NotoSerifCJK" in fonts and "NotoSansCJK" in fonts
    for heading in ("目录", "第 I 部分", "第 1 章", "参考文献"):
        assert _flat(heading) in _flat(text), heading
    # the running footers name the chapter in Chinese too
    assert not re.search(r"Chapter \d", text)
    number = _toc_chapters().index("chapters/13_remedies_over_seeds") + 1
    assert _flat(f"第 {number} 章五个随机种子") in _flat(text)
    assert re.search(r"图\s*1\.1[:：]", text)  # figure captions: 图 1.1: ...
    assert "Fig." not in text
    # the title page's author line, and the document's author in its metadata
    assert _flat(i18n.AUTHOR) in _flat(text) and "nnlib book authors" not in text
    info = subprocess.run(["pdfinfo", str(pdfs[i18n.LANGUAGE])], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert re.search(rf"^Author:\s+{re.escape(i18n.AUTHOR)}$", info, re.M), info


@pytest.mark.parametrize("edition", pdf.EDITIONS)
def test_the_title_page_is_dated_by_the_last_commit(pdfs, edition):
    epoch = os.environ.get(EPOCH) or pdf.commit_epoch()
    if epoch is None:
        pytest.skip("not a git checkout: the PDF is dated by its build")
    day = datetime.fromtimestamp(int(epoch), tz=UTC)
    expected = day.strftime("%Y年%m月%d日" if edition == i18n.LANGUAGE else "%b %d, %Y")
    title_page = subprocess.run(["pdftotext", "-enc", "UTF-8", "-l", "1", str(pdfs[edition]),
                                 "-"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert _flat(expected) in _flat(title_page), title_page


def test_make_pdf_dates_the_build_by_the_commit_unless_told_otherwise(monkeypatch):
    """tools/pdf.py sets SOURCE_DATE_EPOCH (which Sphinx dates the title page by) to the last
    commit's time before it builds, and keeps a value that is set already."""
    seen, commit_epoch = [], pdf.commit_epoch
    monkeypatch.setattr(pdf, "build", lambda edition: seen.append(os.environ.get(EPOCH)))
    monkeypatch.setattr(pdf, "commit_epoch", lambda: "86400")
    monkeypatch.setattr(pdf, "TOOLS", ())  # runs where TeX is not installed too
    monkeypatch.setattr(sys, "argv", ["tools.pdf", "en"])
    monkeypatch.delenv(EPOCH, raising=False)
    pdf.main()
    monkeypatch.setenv(EPOCH, "172800")
    pdf.main()
    assert seen == ["86400", "172800"]
    real = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert commit_epoch() == (real or None)


def _mini_book(folder: Path, pdf_folder: Path) -> Path:
    folder.mkdir()
    (folder / "_config.yml").write_text(
        'title: mini\nexecute:\n  execute_notebooks: "off"\nonly_build_toc_files: true\n'
        f"sphinx:\n  local_extensions:\n    language_links: {ROOT / '_ext'}\n"
        f"  config:\n    pdf_folder: {pdf_folder}\n"
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (folder / "index.md").write_text("# Mini\n\nText.\n")
    return folder


def test_html_links_to_the_pdf_once_it_is_built(tmp_path):
    jb = Path(sys.executable).with_name("jupyter-book")
    pdfs = tmp_path / "pdf"
    pdfs.mkdir()
    for built in (False, True):
        if built:
            (pdfs / "book.pdf").write_bytes(b"%PDF-1.5 stand-in")
        book = _mini_book(tmp_path / f"book-{built}", pdfs)
        result = subprocess.run([str(jb), "build", "-W", "-n", str(book)], capture_output=True,
                                text=True, timeout=300)  # fmt: skip
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        page = (book / "_build" / "html" / "index.html").read_text()
        assert ('class="pdf-link" href="book.pdf"' in page) == built
        assert (book / "_build" / "html" / "book.pdf").exists() == built
