"""tools/fold_checks.py: glue calls leave the lesson's cells, and only when that is safe."""

from __future__ import annotations

from tests.book.support import ROOT
from tools import fold_checks

PAGE = """Text.

```{code-cell} ipython3
:tags: [nbval-ignore-output]

steps = 10
glue("steps", steps, display=False)
result = train(steps)
# the rounded result
glue("result", round(result, 2), display=False)
for key, value in dict(a=1, b=2).items():
    glue(key, value, display=False)
assert result < 1
```

More text.
"""


def test_the_pages_keep_no_glue_in_their_lesson_cells():
    pages = sorted((ROOT / "chapters").glob("*.md"))
    assert fold_checks.main(["--check", *map(str, pages)]) == 0


def test_glue_moves_into_a_hidden_cell_after_the_lesson():
    folded, count = fold_checks.fold(PAGE)
    assert count == 3
    lesson, hidden = folded.split("```{code-cell} ipython3")[1:]
    assert "glue" not in lesson and "assert result < 1" in lesson
    assert hidden.startswith("\n:tags: [remove-input, nbval-ignore-output]\n")
    # the moved statements keep their order and the comment above them
    assert (
        hidden.index('"steps"')
        < hidden.index("# the rounded result")
        < hidden.index('"result"')
        < hidden.index("for key, value")
    )
    assert fold_checks.fold(folded) == (folded, 0)  # nothing left to move


def test_a_glue_whose_value_changes_later_stays():
    page = PAGE.replace("result = train(steps)", "result = train(steps)\nsteps += 1")
    folded, count = fold_checks.fold(page)
    assert count == 2
    lesson = folded.split("```{code-cell} ipython3")[1]
    assert 'glue("steps", steps, display=False)' in lesson
    # a method call may change its object too
    changed = PAGE.replace("assert result < 1", "steps.append(1)\nassert result < 1")
    assert 'glue("steps"' in fold_checks.fold(changed)[0].split("```{code-cell} ipython3")[1]


def test_a_shown_glue_stays_and_a_glue_only_cell_is_hidden_in_place():
    shown = PAGE.replace('glue("steps", steps, display=False)', 'glue("steps", steps)')
    assert 'glue("steps", steps)' in fold_checks.fold(shown)[0].split("```{code-cell}")[1]
    only = 'Text.\n\n```{code-cell} ipython3\nglue("a", 1, display=False)\n```\n'
    folded, count = fold_checks.fold(only)
    assert count == 1 and folded.count("{code-cell}") == 1
    assert ":tags: [remove-input]\n\nglue" in folded


def test_nested_loops_of_glue_count_as_glue():
    nested = (
        'for a in (1, 2):\n    for b in (3, 4):\n        glue(f"k{a}{b}", a * b, display=False)\n'
    )
    assert fold_checks.only_glue(nested)
    assert not fold_checks.only_glue(nested + "print(a)\n")
    assert not fold_checks.only_glue(nested.replace("glue(", "print("))
    assert not fold_checks.only_glue("")
    assert not fold_checks.only_glue("for a in (:\n")  # not Python
