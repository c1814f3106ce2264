"""tools/wrap_code.py: the chapters' code fits the page's code column, and the tool that fits
it keeps each program the same."""

from __future__ import annotations

from pathlib import Path

from tools import wrap_code

ROOT = Path(__file__).resolve().parents[1]
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
    before, after = {}, {}
    exec(compile(source, "<source>", "exec"), before)
    exec(compile(fitted, "<fitted>", "exec"), after)  # the same program
    assert after["f"].__doc__.split() == before["f"].__doc__.split()
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
