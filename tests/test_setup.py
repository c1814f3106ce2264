"""Set-up: `make book` installs only what the HTML needs; `make test` adds the rest.

The light install is measured in the README (a fresh clone builds the book without PyTorch);
these tests keep the files that decide it from drifting: the book's requirements name no
numerical package, requirements.txt includes them instead of repeating them, and the Makefile's
`book` target depends on the light install alone.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^book: \$\(BOOK_STAMP\)\s*$", makefile, re.M)
    assert re.search(r"^\$\(BOOK_STAMP\): requirements-book\.txt\s*$", makefile, re.M)
    recipe = re.search(r"^\$\(BOOK_STAMP\):.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "-r requirements-book.txt" in recipe and "-r requirements.txt" not in recipe
    full = re.search(r"^\$\(STAMP\): (.*)$", makefile, re.M).group(1).split()
    assert "$(BOOK_STAMP)" in full and "requirements.txt" in full
    for target in ("test", "notebooks", "notebook", "nbval", "lab"):
        prerequisites = re.search(rf"^{target}: (.*)$", makefile, re.M).group(1).split()
        assert "$(STAMP)" in prerequisites, f"make {target} needs the full install"
