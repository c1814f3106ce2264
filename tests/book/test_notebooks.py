"""The chapter pipeline: pairs in sync, notebooks executed, nbval and the book build strict.

Each safeguard has a test that shows it fails when it should, on a copy in a temporary
folder, so a broken safeguard cannot pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from tests.book.support import ROOT, planted_makefile
from tools import fold_checks, notebooks
from tools.makevars import make_variable

CHAPTERS = ROOT / "chapters"
MDS = sorted(CHAPTERS.glob("*.md"))
IPYNBS = sorted(CHAPTERS.glob("*.ipynb"))
L1_CHAPTER = CHAPTERS / "04_measuring_error.ipynb"


def _ids(paths):
    return [p.stem for p in paths]


def _toc_files() -> list[str]:
    return notebooks.toc_files(ROOT / "_toc.yml")


# --- the chapters as committed ---------------------------------------------------------------
def test_there_are_chapters():
    assert MDS, "no chapters/*.md found"


def test_every_md_has_its_ipynb_and_back():
    assert [p.stem for p in MDS] == [p.stem for p in IPYNBS]


def test_every_chapter_is_in_the_table_of_contents():
    assert sorted(f for f in _toc_files() if f.startswith("chapters/")) == [
        f"chapters/{p.stem}" for p in MDS
    ]


@pytest.mark.parametrize("ipynb", IPYNBS, ids=_ids(IPYNBS))
def test_pair_inputs_are_identical(ipynb):
    assert notebooks.compare_pair(ipynb.with_suffix(".md"), ipynb) == []


@pytest.mark.parametrize("ipynb", IPYNBS, ids=_ids(IPYNBS))
def test_every_code_cell_has_a_stored_execution_count(ipynb):
    assert notebooks.missing_execution_counts(ipynb) == []


# --- checks on one executed notebook (tools/notebooks.py; `check` runs them all) --------------
# The chapter tests below require no problem; test_each_notebook_check_reports_its_fault plants
# each fault in a real chapter and requires the check to report it.


@pytest.mark.parametrize("check", notebooks.NOTEBOOK_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("ipynb", IPYNBS, ids=_ids(IPYNBS))
def test_chapter_passes_notebook_check(ipynb, check):
    assert check(nbformat.read(ipynb, as_version=4)) == []


# --- the checks above are not vacuous: each fault, planted in a real chapter, is reported ------
def _cells(nb, predicate):
    found = [c for c in nb.cells if predicate(c)]
    assert found, "the chapter has no cell to plant this fault in"
    return found


def _code(nb):
    return _cells(nb, lambda c: c.cell_type == "code")


def _with_output(nb, mime):
    return _cells(nb, lambda c: any(mime in o.get("data", {}) for o in c.get("outputs", [])))


def _glue_outputs(nb):
    return [o for c in nb.cells for o in c.get("outputs", [])
            if "application/papermill.record/text/plain" in o.get("data", {})]  # fmt: skip


def _set_glue(nb, text):
    _glue_outputs(nb)[0]["data"]["application/papermill.record/text/plain"] = text


def _stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _solution_starts(nb):
    return _cells(nb, lambda c: "```{solution-start}" in c.source)


def _drop_solution_code(nb):
    start = nb.cells.index(_solution_starts(nb)[0])
    for cell in nb.cells[start + 1 :]:
        if "```{solution-end}" in cell.source:
            break
        if cell.cell_type == "code":
            cell.execution_count = None


def _print_in_glue_cell(nb):
    """A hidden glue cell of an ignored cell that prints too: no longer only glue."""
    cell = _cells(nb, lambda c: "nbval-ignore-output" in c.metadata.get("tags", [])
                  and fold_checks.only_glue(c.source))[0]  # fmt: skip
    cell.source += "\nprint(1)"


def _untag_assert(nb):
    cell = _cells(nb, lambda c: "nbval-ignore-output" in c.metadata.get("tags", []))[0]
    cell.source = re.sub(r"^(\s*)assert ", r"\1_ = ", cell.source, flags=re.M)


FIGURE_CHAPTER = CHAPTERS / "04_measuring_error.ipynb"
IGNORED_CHAPTER = CHAPTERS / "11_vanishing_exploding.ipynb"
PLANTED_FAULTS = {
    "count_rerun": (notebooks.execution_count_problems, lambda nb: setattr(_code(nb)[1], "execution_count", 7)),
    "count_missing": (notebooks.execution_count_problems, lambda nb: setattr(_code(nb)[0], "execution_count", None)),
    "timing_metadata": (notebooks.comparability_problems,
                        lambda nb: _code(nb)[0].metadata.update(execution={"iopub.status.busy": "x"})),
    "stored_error": (notebooks.comparability_problems, lambda nb: _code(nb)[0].outputs.append(
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]))),
    "svg_figure": (notebooks.comparability_problems,
                   lambda nb: _with_output(nb, "image/png")[0].outputs[0]["data"].update(
                       {"image/svg+xml": "<svg/>"})),
    "grad_fn_repr": (notebooks.comparability_problems, lambda nb: _code(nb)[0].outputs.append(
        _stream("tensor(1., grad_fn=<AddBackward0>)\n"))),
    "device_repr": (notebooks.comparability_problems, lambda nb: _code(nb)[0].outputs.append(
        _stream("tensor([1.], device='cuda:0')\n"))),
    "address": (notebooks.comparability_problems, lambda nb: _code(nb)[0].outputs.append(
        _stream("<object at 0x7f3a2b1c9d10>\n"))),
    "path": (notebooks.comparability_problems, lambda nb: _code(nb)[0].outputs.append(
        _stream("saved to /tmp/run/weights.pt\n"))),
    "stderr": (notebooks.comparability_problems, lambda nb: _code(nb)[0].outputs.append(
        _stream("UserWarning: something\n", name="stderr"))),
    "figure_not_stored": (notebooks.comparability_problems,  # the figure cell ends with plt.show()
                          lambda nb: setattr(_with_output(nb, "image/png")[0], "outputs", [])),
    "no_caption": (notebooks.figure_problems, lambda nb: _with_output(nb, "image/png")[0].metadata["mystnb"]
                   ["figure"].update(caption=" ")),
    "no_figure_name": (notebooks.figure_problems, lambda nb: _with_output(nb, "image/png")[0]
                       .metadata["mystnb"]["figure"].pop("name")),
    "no_alt_text": (notebooks.figure_problems, lambda nb: _with_output(nb, "image/png")[0].metadata["mystnb"]
                    ["image"].update(alt="")),
    "one_exercise": (notebooks.exercise_problems, lambda nb: [
        setattr(c, "source", c.source.replace("```{exercise}", "```{note}"))
        for c in _cells(nb, lambda c: "```{exercise}" in c.source)[1:]]),
    "solution_missing": (notebooks.exercise_problems, lambda nb: setattr(
        _solution_starts(nb)[0], "source",
        _solution_starts(nb)[0].source.replace("{solution-start}", "{note}"))),
    "solution_not_dropdown": (notebooks.exercise_problems, lambda nb: setattr(
        _solution_starts(nb)[0], "source",
        _solution_starts(nb)[0].source.replace("class: dropdown", "class: note"))),
    "solution_not_executed": (notebooks.exercise_problems, _drop_solution_code),
    "numpy_scalar_glued": (notebooks.glue_type_problems, lambda nb: _set_glue(nb, "np.float64(0.5)")),
    "tensor_glued": (notebooks.glue_type_problems, lambda nb: _set_glue(nb, "tensor(0.5000)")),
    "float_not_rounded": (notebooks.glue_rounding_problems, lambda nb: _set_glue(nb, "9.594202241291117e-06")),
    "ignored_cell_without_assert": (notebooks.unchecked_ignored_cells, _untag_assert),
    "glue_cell_that_prints": (notebooks.unchecked_ignored_cells, _print_in_glue_cell),
}  # fmt: skip


@pytest.mark.parametrize("fault", PLANTED_FAULTS)
def test_each_notebook_check_reports_its_fault(fault):
    check, plant = PLANTED_FAULTS[fault]
    chapter = IGNORED_CHAPTER if check is notebooks.unchecked_ignored_cells else FIGURE_CHAPTER
    nb = nbformat.read(chapter, as_version=4)
    assert check(nb) == [], "the unplanted chapter must pass"
    plant(nb)
    assert check(nb) != [], f"{check.__name__} missed the planted {fault}"


# Random draws with these on a GPU use the GPU's generator, whose numbers differ from the
# CPU's for the same seed: chapters draw on the CPU and move the result to the device.
DEVICE_DRAW = re.compile(
    r"torch\.(randn|rand|randint|randperm|normal|bernoulli|multinomial)\((?:[^()]|\([^()]*\))*"
    r"device=|torch\.(randn|rand|randint)_like\("
)


@pytest.mark.parametrize("md", MDS, ids=_ids(MDS))
def test_random_numbers_are_drawn_on_the_cpu(md):
    for number, line in enumerate(md.read_text().splitlines(), 1):
        assert not DEVICE_DRAW.search(line), f"{md.name}:{number}: draw on the CPU: {line.strip()}"


def test_device_draw_pattern_catches_device_draws():
    for line in (
        "x = torch.randn(3, 4, device=device)",
        "torch.rand(2, dtype=dtype, device=d)",
        "g = torch.randn_like(out)",
        "torch.randint(0, 3, (4,), device=device)",
    ):
        assert DEVICE_DRAW.search(line), line
    for line in ("torch.randn(3, 4, generator=g).to(device)", "torch.zeros(3, device=device)"):
        assert not DEVICE_DRAW.search(line), line


def test_l1_chapter_prints_the_source_example():
    text = L1_CHAPTER.read_text()
    assert "tensor(0.6667, dtype=torch.float64)\\n" in text
    assert "tensor(2., dtype=torch.float64)\\n" in text


# --- each safeguard fails when it should ---------------------------------------------------
def _edit_first(cells, predicate, edit):
    for cell in cells:
        if predicate(cell):
            edit(cell)
            return
    raise AssertionError("no cell to edit")


@pytest.mark.parametrize("change", ["source", "type", "tags", "caption", "alt", "cells"])
def test_compare_pair_detects_each_kind_of_difference(tmp_path, change):
    md = tmp_path / "chapter.md"
    ipynb = tmp_path / "chapter.ipynb"
    shutil.copy(L1_CHAPTER.with_suffix(".md"), md)
    nb = jupytext.read(L1_CHAPTER)
    is_code = lambda c: c.cell_type == "code"  # noqa: E731
    if change == "source":
        _edit_first(nb.cells, is_code, lambda c: setattr(c, "source", c.source + "\n1 + 1"))
    elif change == "type":
        _edit_first(nb.cells, is_code, lambda c: setattr(c, "cell_type", "markdown"))
    elif change == "tags":
        _edit_first(nb.cells, is_code, lambda c: c.metadata.update(tags=["hide-input"]))
    elif change in ("caption", "alt"):  # what the book renders from a figure cell's metadata
        has_figure = lambda c: "mystnb" in c.metadata  # noqa: E731
        key, field = ("figure", "caption") if change == "caption" else ("image", "alt")
        _edit_first(nb.cells, has_figure,
                    lambda c: c.metadata["mystnb"][key].update({field: "something else"}))  # fmt: skip
    else:
        nb.cells.pop()
    nbformat.write(nb, ipynb)
    assert notebooks.compare_pair(md, ipynb) != []
    assert notebooks.check([ipynb]) != []


def test_sync_copies_prose_keeps_outputs_and_refuses_changed_code(tmp_path):
    md, ipynb = tmp_path / "chapter.md", tmp_path / "chapter.ipynb"
    shutil.copy(L1_CHAPTER.with_suffix(".md"), md)
    shutil.copy(L1_CHAPTER, ipynb)
    notebooks.sync(md)
    assert ipynb.read_bytes() == L1_CHAPTER.read_bytes()  # unchanged pair: the same bytes
    md.write_text(md.read_text().replace("\n## ", "\n## Renamed ", 1))
    notebooks.sync(md)
    assert notebooks.compare_pair(md, ipynb) == []
    assert notebooks.missing_execution_counts(ipynb) == []
    md.write_text(
        md.read_text().replace("```{code-cell} ipython3\n", "```{code-cell} ipython3\n1 + 1\n", 1)
    )
    with pytest.raises(ValueError, match="a code cell changed"):
        notebooks.sync(md)


def test_sync_copies_a_change_of_comments_but_not_of_code(tmp_path):
    md, ipynb = tmp_path / "chapter.md", tmp_path / "chapter.ipynb"
    shutil.copy(L1_CHAPTER.with_suffix(".md"), md)
    shutil.copy(L1_CHAPTER, ipynb)
    imports = "```{code-cell} ipython3\nimport "  # a cell without options
    commented = md.read_text().replace(imports, imports.replace("import", "# a comment\nimport"), 1)
    assert commented != md.read_text()
    md.write_text(commented)
    notebooks.sync(md)
    assert notebooks.compare_pair(md, ipynb) == []
    assert notebooks.missing_execution_counts(ipynb) == []
    # the same comment, with the code after it changed: refused
    md.write_text(commented.replace("# a comment\n", "# a comment\nx = 1  # x\n", 1))
    with pytest.raises(ValueError, match="a code cell changed"):
        notebooks.sync(md)
    # a "#" inside a string is code, not a comment
    assert notebooks.code_tokens('s = "# not a comment"') != notebooks.code_tokens("s = ")


def test_missing_execution_counts_are_detected(tmp_path):
    nb = nbformat.read(L1_CHAPTER, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
    copy = tmp_path / "unexecuted.ipynb"
    nbformat.write(nb, copy)
    assert notebooks.missing_execution_counts(copy) != []


def _run_nbval(path: Path, makefile: Path | None = None) -> subprocess.CompletedProcess:
    """Strict nbval on ``path`` with the Makefile's NBVAL_FLAGS (the sanitize file included),
    run from the repository root as `make test` runs it."""
    flags = make_variable("NBVAL_FLAGS", makefile).split()
    return subprocess.run(
        [sys.executable, "-m", "pytest", *flags, "-p", "no:cacheprovider", "-q", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _with_stored_l1_changed(nb) -> None:
    """Change the stored 0.6667 of the L1 example to 0.6668."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout" and "tensor(0.6667" in out.text:
                out.text = out.text.replace("tensor(0.6667", "tensor(0.6668")
                return
    raise AssertionError("stored L1 output not found")


@pytest.mark.slow
def test_strict_nbval_fails_on_one_changed_number_and_nothing_else(tmp_path):
    """The copy fails in exactly one cell, the changed one: every other cell of the page (run
    unchanged by the strict pass itself) passes in the copy too."""
    nb = nbformat.read(L1_CHAPTER, as_version=4)
    _with_stored_l1_changed(nb)
    changed = tmp_path / "changed" / "chapter.ipynb"
    changed.parent.mkdir()
    nbformat.write(nb, changed)
    result = _run_nbval(changed)
    assert result.returncode != 0
    assert "0.6668" in result.stdout and "1 failed" in result.stdout


def _two_cell_page(md: Path, first: str, second: str) -> Path:
    """A Markdown notebook in the chapters' format (their jupytext header) with two code cells."""
    header = L1_CHAPTER.with_suffix(".md").read_text().split("---\n", 2)[1]
    md.write_text(f"---\n{header}---\n\n# A page\n\n```{{code-cell}} ipython3\n{first}\n```\n\n"
                  f"```{{code-cell}} ipython3\n{second}\n```\n")  # fmt: skip
    return md


@pytest.mark.slow
def test_nbval_checks_nothing_in_an_unexecuted_conversion(tmp_path):
    """Why the execution-count check exists: a notebook converted from Markdown without
    executing it has no counts and no outputs, and strict nbval passes it while comparing
    nothing. The pipeline's own check rejects it. (A two-cell page in the chapters' format:
    executing a whole chapter here would only take longer.)"""
    copy = tmp_path / "chapter.ipynb"
    _two_cell_page(copy.with_suffix(".md"), "x = 0.6667", "print(x)")
    jupytext.write(jupytext.read(copy.with_suffix(".md")), copy, fmt="ipynb")
    assert len([c for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]) == 2
    result = _run_nbval(copy)
    assert result.returncode == 0, "nbval now fails unexecuted notebooks; revisit this test"
    assert notebooks.missing_execution_counts(copy) != []
    assert notebooks.check([copy]) != []


def _mini_book(folder: Path, body: str) -> Path:
    folder.mkdir()
    (folder / "_config.yml").write_text(
        'title: mini\nexecute:\n  execute_notebooks: "off"\nonly_build_toc_files: true\n'
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (folder / "index.md").write_text(f"(top)=\n# Mini\n\n{body}\n")
    return folder


def _build(
    book: Path, out: Path | None = None, makefile: Path | None = None
) -> subprocess.CompletedProcess:
    """`jupyter-book build` with the Makefile's BOOK_FLAGS."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", *make_variable("BOOK_FLAGS", makefile).split(), str(book)]
    if out is not None:
        cmd += ["--path-output", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_book_build_fails_on_a_warning(tmp_path):
    good = _build(_mini_book(tmp_path / "good", "See {ref}`top`."))
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _build(_mini_book(tmp_path / "bad", "See {ref}`no-such-label`."))
    assert bad.returncode != 0
    assert "no-such-label" in bad.stdout + bad.stderr


def test_real_book_builds_with_no_network(book):
    """The book, its config and stored outputs build with no network interface at all, and
    without PyTorch (`make book` does not install it): importing torch fails in that build,
    the one every test of the built book reads (tests/conftest.py)."""
    if not book.offline:
        pytest.skip("cannot drop the network (unshare -n): the shared build had it")
    page = (book.html / "chapters" / "04_measuring_error.html").read_text()
    assert "tensor(0.6667, dtype=torch.float64)" in page
    assert "tensor(2., dtype=torch.float64)" in page
    assert (book.html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert not re.search(r'<script[^>]+src="https?://[^"]*mathjax', page)


def test_ci_runs_make_test_and_fails_with_it(tmp_path):
    """.ci/run calls make exactly once, as `make test` from the project root, and exits with
    its status (a stub make on PATH records its arguments and exits 3). The stored
    outputs, the offline build and the strict flags are checked where the book is built."""
    stub = tmp_path / "bin" / "make"
    stub.parent.mkdir()
    log = tmp_path / "calls"
    stub.write_text(f'#!/bin/sh\necho "$(pwd) $*" >> {log}\nexit 3\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(ROOT / ".ci" / "run")], cwd=tmp_path, env=env)
    assert result.returncode == 3
    assert log.read_text().splitlines() == [f"{ROOT} test"]


# --- the pipeline tests follow the Makefile: weakening it there breaks them ---------------------
def _tiny_executed_notebook(folder: Path) -> tuple[Path, Path]:
    """A two-cell page executed like a chapter (printing 0.6667), and a copy whose stored
    output says 0.6668."""
    folder.mkdir()
    md = _two_cell_page(folder / "page.md", "x = 2 / 3", 'print(f"{x:.4f}")')
    same = notebooks.execute(md)
    nb = nbformat.read(same, as_version=4)
    assert nb.cells[-1].outputs[0].text == "0.6667\n"
    nb.cells[-1].outputs[0].text = "0.6668\n"
    changed = folder / "changed.ipynb"
    nbformat.write(nb, changed)
    return same, changed


@pytest.mark.slow
@pytest.mark.parametrize(
    "old, new",
    [
        ("NBVAL_FLAGS := --nbval ", "NBVAL_FLAGS := --nbval-lax "),
        ("--nbval-sanitize-with tests/nbval_sanitize.cfg", "--nbval-sanitize-with MASK"),
    ],
    ids=["lax", "digit-masking sanitizer"],
)
def test_a_weakened_nbval_setting_lets_a_changed_number_through(tmp_path, old, new):
    """What the mutation test above would see if `make test` were weakened: the changed number
    passes, so its `returncode != 0` fails. The project's flags catch it."""
    same, changed = _tiny_executed_notebook(tmp_path / "page")
    assert _run_nbval(same).returncode == 0
    assert _run_nbval(changed).returncode != 0
    mask = tmp_path / "mask.cfg"
    mask.write_text("[digits]\nregex: \\d+\nreplace: D\n")
    planted = planted_makefile(tmp_path, old, new.replace("MASK", str(mask)))
    result = _run_nbval(changed, planted)
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_a_build_without_w_lets_a_broken_reference_through(tmp_path):
    planted = planted_makefile(tmp_path, "BOOK_FLAGS := -W -n", "BOOK_FLAGS := -n")
    bad = _build(_mini_book(tmp_path / "bad", "See {ref}`no-such-label`."), makefile=planted)
    assert bad.returncode == 0  # so test_book_build_fails_on_a_warning would fail


@pytest.mark.parametrize("ipynb", IPYNBS, ids=_ids(IPYNBS))
def test_no_cell_uses_another_nbval_exemption(ipynb):
    assert notebooks.exempted_cells(nbformat.read(ipynb, as_version=4)) == []


@pytest.mark.parametrize(
    "marker",
    ["tag:nbval-skip", "tag:raises-exception", "# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP",
     "# NBVAL_RAISES_EXCEPTION", "#NBVAL_CHECK_OUTPUT"],
)  # fmt: skip
def test_every_other_nbval_exemption_is_caught(tmp_path, marker):
    nb = nbformat.read(L1_CHAPTER, as_version=4)
    is_code = lambda c: c.cell_type == "code"  # noqa: E731
    if marker.startswith("tag:"):
        _edit_first(
            nb.cells, is_code, lambda c: c.metadata.setdefault("tags", []).append(marker[4:])
        )
    else:
        _edit_first(nb.cells, is_code, lambda c: setattr(c, "source", f"{marker}\n{c.source}"))
    assert len(notebooks.exempted_cells(nb)) == 1
    copy = tmp_path / "chapter.ipynb"
    nbformat.write(nb, copy)
    assert any("exempts it from nbval" in p for p in notebooks.check([copy]))
