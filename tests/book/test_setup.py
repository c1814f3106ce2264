"""Set-up and the test commands: what `make book` installs, and what `make test` runs.

A fresh clone builds the book without PyTorch; these tests keep the files that decide it from
drifting: the book's requirements name no numerical package, requirements.txt includes them
instead of repeating them, and the Makefile's `book` target depends on the light install alone. Then the commands `make test` really runs
(`make -n`) are checked, and weakened copies of the Makefile prove that the check notices.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.book.support import ROOT, dry_run, planted_makefile, prerequisites, recipe
from tools.makevars import make_variable

HEAVY = {"torch", "torchvision", "numpy", "scipy", "scikit-learn", "matplotlib", "pillow", "nnlib"}


def _requirements(path: Path) -> list[str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[ ]", requirement, maxsplit=1)[0].lower()


def test_the_book_requirements_are_pinned_and_light():
    book = _requirements(ROOT / "requirements-book.txt")
    assert book, "requirements-book.txt is empty"
    for requirement in book:
        assert "==" in requirement, f"{requirement!r} is not pinned exactly"
        assert _name(requirement) not in HEAVY, f"{requirement!r}: the book build must not need it"
    assert any(_name(r) == "jupyter-book" for r in book)


def test_requirements_include_the_book_requirements_once():
    full = _requirements(ROOT / "requirements.txt")
    assert "-r requirements-book.txt" in full
    book_names = {_name(r) for r in _requirements(ROOT / "requirements-book.txt")}
    repeated = [r for r in full if not r.startswith("-") and _name(r) in book_names]
    assert not repeated, f"pinned in both files (they could disagree): {repeated}"
    assert {"torch", "nbval", "pytest"} <= {_name(r) for r in full}


def test_make_book_depends_on_the_light_install_only():
    assert prerequisites("book") == [".venv/.installed-book"]
    # the PDF, too, renders stored outputs: no PyTorch; its TeX comes from pdf-deps
    assert prerequisites("pdf") == [".venv/.installed-book", "pdf-deps"]
    # make test installs the Debian packages first, in one visible step: its dry run runs the
    # checks of pdf-deps (dpkg-query) and browser-deps (chromium) before anything else
    commands = "\n".join(dry_run("test"))
    assert "dpkg-query" in commands and "command -v chromium" in commands
    assert commands.index("dpkg-query") < commands.index("ruff check")
    assert prerequisites(".venv/.installed-book") == ["requirements-book.txt"]
    light = " ".join(recipe(".venv/.installed-book"))
    assert "-r requirements-book.txt" in light and "-r requirements.txt" not in light
    full = prerequisites(".venv/.installed")
    assert ".venv/.installed-book" in full and "requirements.txt" in full
    for target in ("test", "notebooks", "notebook", "nbval", "lab"):
        assert ".venv/.installed" in prerequisites(target), f"make {target} needs the full install"


def test_prerequisites_are_read_from_make(tmp_path):
    planted = planted_makefile(tmp_path, "book: $(BOOK_STAMP)", "book: $(STAMP)")
    assert prerequisites("book", planted) == [".venv/.installed"]
    with pytest.raises(ValueError, match="must be a rule"):
        prerequisites("no-such-target")


CHAPTERS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "chapters").glob("*.ipynb"))
TEST_FILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("*/test_*.py"))


def _nbval_runs(lines: list[str]) -> list[list[str]]:
    return [line.split() for line in lines if "pytest" in line and "--nbval" in line]


def _check_make_test(lines: list[str]) -> None:
    runs = _nbval_runs(lines)
    assert len(runs) == 2, f"expected the strict and the portable nbval pass; got {len(runs)}"
    strict, portable = runs
    for run in (strict, portable):
        assert "--nbval" in run and "--nbval-lax" not in run and "--nbval-current-env" in run
        assert "--nbval-sanitize-with" in run
        assert run[run.index("--nbval-sanitize-with") + 1] == "tests/nbval_sanitize.cfg"
        assert set(CHAPTERS) <= set(run), "a chapter is missing from an nbval pass"
        # one kernel per notebook: every cell of a notebook runs, in order, on one worker
        assert run[run.index("--dist") + 1] == "loadfile" and "-n" in run
        assert "OMP_NUM_THREADS=1" in run and "MKL_NUM_THREADS=1" in run
    assert set(TEST_FILES) <= set(strict), "the unit and pipeline tests run with the strict pass"
    assert not set(TEST_FILES) & set(portable)
    assert "ATEN_CPU_CAPABILITY=default" in portable and "ATEN_CPU_CAPABILITY=default" not in strict
    # the two passes take two MKL code branches: COMPATIBLE, and the CPU's own or another
    assert "MKL_CBWR=COMPATIBLE" in portable and "MKL_CBWR=COMPATIBLE" not in strict
    assert "$(.venv/bin/python -m tools.mkl_branch --strict)" in " ".join(strict)
    # both editions are built, side by side, and either one's failure fails the target
    assert any(
        re.search(r"tools\.i18n build & chinese=\$!;.*jupyter-book build -W -n --keep-going \.;"
                  r".*wait \$chinese && test \$english = 0$", line)
        for line in lines
    )  # fmt: skip
    assert any(line.startswith(".venv/bin/ruff check") for line in lines)


def test_make_test_runs_every_check_in_parallel_on_one_thread_per_worker():
    _check_make_test(dry_run("test"))


WEAKENED = {  # a plausible change that would weaken `make test`, and the text it replaces
    "lax nbval": ("NBVAL_FLAGS := --nbval ", "NBVAL_FLAGS := --nbval-lax "),
    "no sanitize file": ("--nbval-sanitize-with tests/nbval_sanitize.cfg", ""),
    "warnings allowed": ("BOOK_FLAGS := -W -n", "BOOK_FLAGS := -n"),
    "cells split across workers": ("--dist loadfile", "--dist load"),
    "threads fight": ("ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1", "ONE_THREAD :="),
    "portable kernels off": ("ATEN_CPU_CAPABILITY=default ", ""),
    "one MKL branch for both passes": ("\\\n  MKL_CBWR=COMPATIBLE\n", "\n"),
    "strict pass pinned to COMPATIBLE": ("STRICT_MKL = $$($(BIN)/python -m tools.mkl_branch --strict)",
                                         "STRICT_MKL = MKL_CBWR=COMPATIBLE"),
    "portable pass on one chapter": ("  $(NBVAL_FLAGS) $(NBVAL_FILES)\n", "  $(NBVAL_FLAGS) chapters/01*.ipynb\n"),
    "unit tests dropped": ("ordered,$(CHAPTERS_IPYNB) $(TEST_FILES)", "ordered,$(CHAPTERS_IPYNB)"),
    "Chinese build's failure ignored": ("wait $$chinese && test", "wait $$chinese; test"),
    "one test file lost": ("TEST_FILES     := $(sort $(wildcard tests/*/test_*.py))",
                           "TEST_FILES     := $(sort $(wildcard tests/*/test_[a-m]*.py))"),
    "the book's tests lost": ("TEST_FILES     := $(sort $(wildcard tests/*/test_*.py))",
                              "TEST_FILES     := $(sort $(wildcard tests/nnlib/test_*.py))"),
}  # fmt: skip


@pytest.mark.parametrize("fault", WEAKENED)
def test_the_make_test_check_fails_on_a_weakened_makefile(tmp_path, fault):
    planted = planted_makefile(tmp_path, *WEAKENED[fault])
    with pytest.raises(AssertionError):
        _check_make_test(dry_run("test", makefile=planted))


def test_a_variable_given_to_the_calling_make_does_not_hide_a_planted_fault(tmp_path, monkeypatch):
    """`make test PARALLEL=...` passes its variable to every make the tests start (MAKEFLAGS):
    the project's Makefile is checked as that command runs it, a planted copy as written."""
    monkeypatch.setenv("MAKEFLAGS", r" -- PARALLEL=-n\ 2\ --dist\ loadfile")
    planted = planted_makefile(tmp_path, *WEAKENED["cells split across workers"])
    with pytest.raises(AssertionError):
        _check_make_test(dry_run("test", makefile=planted))
    assert make_variable("PARALLEL") == "-n 2 --dist loadfile"


def test_make_nbval_is_the_strict_pass_over_every_chapter():
    (strict,) = _nbval_runs(dry_run("nbval"))
    assert set(CHAPTERS) <= set(strict) and not set(TEST_FILES) & set(strict)
    assert "--nbval-lax" not in strict and "ATEN_CPU_CAPABILITY=default" not in strict


def test_the_slowest_first_list_names_existing_files():
    """The Makefile's SLOW_FIRST only orders the work; an entry for a renamed file would
    silently stop doing even that."""
    names = make_variable("SLOW_FIRST").split()
    assert names and all((ROOT / name).is_file() for name in names), names


def test_the_strict_pass_leaves_the_portable_pass_s_mkl_branch():
    from tools.mkl_branch import strict_setting

    assert strict_setting("AVX512_E1", {"avx2"}) == "" and strict_setting(None, set()) == ""
    assert strict_setting("AVX2", {"avx2"}) == ""
    assert strict_setting("COMPATIBLE", {"avx2", "sse4_2"}) == "MKL_CBWR=AVX2"
    assert strict_setting("COMPATIBLE", {"sse4_2"}) == "MKL_CBWR=SSE4_2"


@pytest.mark.parametrize("branch", ["COMPATIBLE", "SSE4_2"])
def test_mkl_branch_reports_the_branch_a_process_takes(branch):
    """The branch printed before each pass is MKL's own answer: the branch asked for where
    MKL offers it on this CPU, else the one it stays on."""
    import torch

    if not torch.backends.mkl.is_available():
        pytest.skip("this PyTorch build has no MKL")

    def reported(**setting):
        env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"} | setting
        return subprocess.run([sys.executable, "-m", "tools.mkl_branch"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True).stdout  # fmt: skip

    out, native = reported(MKL_CBWR=branch), reported().split()[0]
    taken = out.split()[0]
    # MKL takes the branch asked for, or, on a CPU where it does not offer that branch (on an
    # AMD EPYC it offers only COMPATIBLE), stays on its own: the tool reports which
    assert taken in (branch, native) and "(native " in out
    assert taken == branch or branch != "COMPATIBLE"  # COMPATIBLE is offered everywhere
