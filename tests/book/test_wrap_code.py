"""tools/wrap_code.py: the chapters' code fits the page's code column, and the tool that fits
it keeps each program the same."""

from __future__ import annotations

import contextlib
import io

import pytest

from tests.book.support import ROOT
from tools import wrap_code

CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))


def test_chapter_code_fits_the_code_column():
    """Every line of every code cell fits the page's code column (tools/wrap_code.py; the
    browser tests check that nothing scrolls sideways at that width)."""
    assert [p for md in CHAPTERS for p in wrap_code.too_long(md)] == []


def test_wrap_code_splits_what_ruff_cannot():
    source = (
        "x = 1  # " + "a comment " * 10 + "\n"
        'print(f"value {x:.3f} and ' + "word " * 15 + '{x + 1}")\n'
        "def f():\n"
        '    """' + "A docstring " * 8 + '."""\n'
        "    return 1\n"
    )
    fitted = wrap_code.fit(source, 40)
    assert max(len(line) for line in fitted.splitlines()) <= 40
    before, after = _run(source), _run(fitted)  # the same program, the same output
    assert after[1] == before[1] and after[0]["x"] == before[0]["x"]
    assert after[0]["f"].split() == before[0]["f"].split()  # the docstring, wrapped again
    assert wrap_code.fit(fitted, 40) == fitted  # a second run changes nothing


def test_code_in_a_solution_gets_the_narrower_width(tmp_path):
    page = tmp_path / "page.md"
    line = "x = " + "1 + " * 18 + "1"  # 77 characters: fits the column, not a solution's
    page.write_text(
        f"# Page\n\n```{{code-cell}} ipython3\n{line}\n```\n\n"
        "```{solution-start} ex\n:class: dropdown\n```\n\n"
        f"```{{code-cell}} ipython3\n{line}\n```\n\n```{{solution-end}}\n```\n"
    )
    widths = [width for _, _, width in wrap_code.code_cells(page.read_text())]
    assert widths == [wrap_code.WIDTH, wrap_code.SOLUTION_WIDTH]
    assert len(line) == 77 and wrap_code.too_long(page) == [f"{page}:12: {line}"]
    wrap_code.rewrite(page)
    assert wrap_code.too_long(page) == []
    assert page.read_text().count(line) == 1  # the cell outside the solution is unchanged


def _run(source: str) -> tuple[dict, str]:
    """The names a program defines (docstrings included) and what it prints."""
    namespace: dict = {}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(source, "<cell>", "exec"), namespace)
    values = {k: getattr(v, "__doc__", v) if callable(v) else v
              for k, v in namespace.items() if not k.startswith("__")}  # fmt: skip
    return values, output.getvalue()


TRICKY = {  # what the tool must leave alone or split without changing the program
    "one-line triple-quoted string": 'x = """a one-line triple-quoted string, long enough"""\n',
    "named escape": 'y = "word word word word word \\N{EM DASH} and more words to be long"\n',
    "hash inside a string": 'z = "use # noqa here, and a few more words to be long"\n',
    "comment after a multi-line string": 's = """a\nb"""  # a comment far too long for the line\n',
    "comment after a backslash": "t = 1 + \\\n    2  # a comment far too long for the line width\n",
    "raw f-string": 'w = 3\nr = rf"\\{w} and {w + 1 + 2 + 3 + 4 + 5 + 6 + 7} and more words"\n',
    "docstring with a list": (
        'def f():\n    """Items:\n\n    - the first item of a list, which is long\n'
        '    - the second\n    """\n'
    ),
    "unsplittable comment": "# https://example.com/" + "a" * 50 + "\n"
    'print("a string long enough to be split at its spaces, after the comment")\n',
}


@pytest.mark.parametrize("name", TRICKY)
def test_fitting_keeps_the_program(name):
    source = TRICKY[name]
    fitted = wrap_code.fit(source, 40)
    assert _run(fitted) == _run(source), fitted
    assert wrap_code.fit(fitted, 40) == fitted


def test_a_line_that_cannot_be_fitted_does_not_stop_the_others():
    fitted = wrap_code.fit(TRICKY["unsplittable comment"], 40)
    assert [len(line) > 40 for line in fitted.splitlines()] == [True] + [False] * 4
    docstring = wrap_code.fit(TRICKY["docstring with a list"], 40)
    assert "    - the first item of a list, which is long\n" in docstring  # kept as written


def test_included_nnlib_code_must_fit_too(tmp_path):
    """nnlib's code shown with literalinclude and :pyobject: is held to the same width."""
    (tmp_path / "lib.py").write_text(
        "class Op:\n    @staticmethod\n    def backward(x):\n        return x  # short\n\n\n"
        "def other():\n    return '" + "x" * 90 + "'\n"
    )
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```{literalinclude} lib.py\n:pyobject: Op.backward\n```\n")
    assert wrap_code.too_long(page) == []
    page.write_text("Text.\n\n```{literalinclude} lib.py\n:pyobject: other\n```\n")
    (problem,) = wrap_code.too_long(page)
    assert "lib.py:8: (other, shown on page.md)" in problem
    page.write_text("```{literalinclude} lib.py\n:pyobject: Missing\n```\n")
    with pytest.raises(ValueError, match="no object 'Missing'"):
        wrap_code.too_long(page)
