"""No number in the book's prose is typed by hand.

A measured number reaches the prose through ``{glue:text}`` from the cell that computes it.
Numerals left in plain text must be on the page's allowlist, ``tests/book/prose_numbers/<page>.toml``
(a phrase containing the numeral and the reason it is not a measurement). The scanner itself
is ``tools/prose_numbers.py``; the tests below also plant typed numbers and watch it fail.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.book.support import ROOT
from tools import prose_numbers as P
from tools.notebooks import toc_files

PAGES = [
    ROOT / (page if Path(page).suffix else f"{page}.md")
    for page in toc_files(ROOT / "_toc.yml")
    if Path(page).stem != "references"  # the bibliography: years and pages of the sources
]
ALLOWLIST = P.load_allowlist()


def test_every_page_of_the_book_is_scanned():
    assert len(PAGES) >= 14 and all(page.exists() for page in PAGES)
    assert any(page.name == "claims.md" for page in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_typed_numbers_in_the_prose(page):
    typed = P.typed_numbers([page], ALLOWLIST)
    assert not typed, (
        "numbers typed in the prose: glue each from the cell that computes it, write a "
        "mathematical constant as math, or add a definitional constant to "
        f"tests/book/prose_numbers/{page.stem}.toml with the reason:\n" + "\n".join(map(str, typed))
    )


def test_allowlists_name_pages_of_the_book_and_give_reasons():
    stems = {page.stem for page in PAGES}
    for stem, phrases in ALLOWLIST.items():
        assert stem in stems, f"tests/book/prose_numbers/{stem}.toml names no page of the book"
        for phrase, reason in phrases.items():
            assert P.NUMERAL.search(phrase), f"{stem}: {phrase!r} contains no numeral"
            assert isinstance(reason, str) and len(reason.split()) >= 3, (
                f"{stem}: {phrase!r} needs a reason (why it is not a measurement)"
            )


def test_allowlists_have_no_stale_entries():
    stale = P.unused_phrases(PAGES, ALLOWLIST)
    assert not stale, f"allowlisted phrases that no longer occur in the prose: {stale}"


PAGE = """\
---
jupytext:
  text_representation:
    format_name: myst
---

# A page

The network reaches 92.3% test accuracy.

It reaches {glue:text}`acc:.1f`% with `lr=0.5` and $10^{-3}$ and {ref}`sec-2`.

```{admonition} Note 7
:class: tip
The loss drops by 4 orders of magnitude.
```

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: |
      After 300 steps.
---
x = 12345
```

$$
y = 42 x
$$

```{math}
z = 17
```

```{tabularcolumns} \\Y{0.3}\\Y{0.7}
```

| a | b |
|---|---|
| 0.25 | $0.5$ |

With the default slope of 0.01, as PyTorch defines it.

A second 0.01 that is measured.
"""


def test_scanner_finds_typed_numbers_and_only_them(tmp_path):
    page = tmp_path / "01_page.md"
    page.write_text(PAGE)
    found = [n.number for n in P.numerals(page)]
    # prose, an admonition's title and body, a figure caption, a table cell, plain text
    assert found == ["92.3", "7", "4", "300", "0.25", "0.01", "0.01"]
    lines = {n.number: n.line for n in P.numerals(page)}
    assert PAGE.split("\n")[lines["92.3"] - 1] == "The network reaches 92.3% test accuracy."
    allow = {"01_page": {"default slope of 0.01": "PyTorch's documented default"}}
    typed = [n.number for n in P.typed_numbers([page], allow)]
    assert typed == ["92.3", "7", "4", "300", "0.25", "0.01"]  # the second 0.01 stays typed
    assert P.unused_phrases([page], allow) == []
    assert P.unused_phrases([page], {"01_page": {"slope of 0.02": "gone"}}) == [
        "01_page: 'slope of 0.02'"
    ]


def test_scanner_rejects_a_typed_measurement_in_a_real_chapter(tmp_path):
    """Replace one glued number of a chapter by its value, typed: the check must fail."""
    source = ROOT / "chapters" / "05_regression_losses.md"
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    assert P.typed_numbers([copy], ALLOWLIST) == []
    text = copy.read_text()
    role = re.search(r"\{glue:text\}`[^`]+`", text).group(0)
    copy.write_text(text.replace(role, "17.4", 1))
    typed = P.typed_numbers([copy], ALLOWLIST)
    assert [n.number for n in typed] == ["17.4"]


def test_cli_exit_status(tmp_path, capsys):
    page = tmp_path / "01_page.md"
    page.write_text("# Title\n\nIt scores 97.5% on the test set.\n")
    assert P.main([str(page)]) == 1
    assert "97.5" in capsys.readouterr().out
    page.write_text("# Title\n\nIt scores well on the test set.\n")
    assert P.main([str(page)]) == 0


def test_allowlist_files_are_read_strictly(tmp_path):
    good = tmp_path / "01_page.toml"
    good.write_text('# comment\n"slope of 0.01" = "the documented default"  # why\n\n')
    assert P.load_allowlist(tmp_path) == {"01_page": {"slope of 0.01": "the documented default"}}
    bad = tmp_path / "02_page.toml"
    bad.write_text("slope of 0.01 = the documented default\n")
    with pytest.raises(ValueError, match=r'02_page.toml:1: expected a line "phrase" = "reason"'):
        P.load_allowlist(tmp_path)
    bad.write_text('"a 1" = "one reason here"\n"a 1" = "another reason here"\n')
    with pytest.raises(ValueError, match=r"02_page.toml:2: 'a 1' is listed twice"):
        P.load_allowlist(tmp_path)
