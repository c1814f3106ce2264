"""No page uses a glossary term before the page that explains it (tools/term_order.py)."""

from __future__ import annotations

from tools.term_order import Term, check, early_uses, glossary_terms, toc_pages

GLOSSARY = """# Glossary

```{glossary}
Adam (Adam)
  An optimiser. First explained in {ref}`adam`.

stochastic gradient descent (随机梯度下降, SGD)
  Descent on mini-batches. First explained in
  {ref}`the section on SGD <sgd>`.

logit (logit; 对数几率 for a sigmoid's input)
  A score. First explained in {ref}`logits`.
```
"""

FIRST = """(first)=
# Training

(adam)=
## Adam

**Adam** scales each step; SGD is explained too.

(sgd)=
SGD uses mini-batches.
"""

SECOND = """(second)=
# Classifiers

(logits)=
A **logit** is a score, trained with Adam.
"""


def _pages(first=FIRST, second=SECOND):
    return [("first", first), ("second", second)]


def test_glossary_entries_name_their_section_and_aliases():
    terms = glossary_terms(GLOSSARY)
    assert [t.label for t in terms] == ["adam", "sgd", "logits"]
    assert terms[1].names == ("stochastic gradient descent", "SGD")
    assert terms[2].names == ("logit",)  # the Chinese and its note are not names


def test_the_book_uses_no_term_before_it_is_explained():
    problems = check()
    assert not problems, "\n".join(problems)


def test_an_early_use_fails():
    planted = FIRST.replace("scales each step", "scales each step (as a logit does)")
    problems = early_uses(glossary_terms(GLOSSARY), _pages(first=planted))
    assert len(problems) == 1 and "'logit' before second explains it" in problems[0]


def test_plurals_hyphens_and_case():
    term = Term("cross-entropy (交叉熵)", ("cross-entropy",), "x")
    found = term.pattern()
    assert found.search("two Cross entropies") and found.search("the cross-entropy loss")
    assert not found.search("binary_cross_entropy_with_logits")  # a name in code
    adam = Term("Adam (Adam)", ("Adam",), "adam").pattern()
    assert adam.search("with Adam.") and not adam.search("adam") and not adam.search("Adamax")


def test_a_link_or_a_quotation_is_not_a_use():
    linked = FIRST + "\nA {ref}`logit <logits>` is explained later.\n"
    quoted = FIRST + '\nAn article says: "the logit is the output".\n'
    for first in (linked, quoted):
        assert early_uses(glossary_terms(GLOSSARY), _pages(first=first)) == []
    # math and code are not prose either
    coded = FIRST + "\nThe code calls `logit(x)`, the formula $\\text{logit}(p)$.\n"
    assert early_uses(glossary_terms(GLOSSARY), _pages(first=coded)) == []


def test_a_missing_or_wrong_label_fails():
    no_label = GLOSSARY.replace(" First explained in {ref}`adam`.", "")
    problems = early_uses(glossary_terms(no_label), _pages())
    assert any("'Adam (Adam)' does not say where" in p for p in problems)
    unknown = GLOSSARY.replace("{ref}`adam`", "{ref}`nowhere`")
    problems = early_uses(glossary_terms(unknown), _pages())
    assert any("names 'nowhere', on no page" in p for p in problems)
    # the label sits on a page that never names the term
    moved = SECOND.replace("A **logit** is a score", "A score")
    problems = early_uses(glossary_terms(GLOSSARY), _pages(second=moved))
    assert any("explains" in p and "logit" in p and "never names it" in p for p in problems)


def test_a_planted_early_use_in_the_book_fails():
    """The real glossary and pages, with the Jacobian (explained on page 08) named on the
    first page after the training part."""
    root = toc_pages()[0].parents[1]
    terms = glossary_terms((root / "glossary.md").read_text(encoding="utf-8"))
    pages = [(p.stem, p.read_text(encoding="utf-8")) for p in toc_pages()]
    name, text = pages[1]
    pages[1] = (name, text + "\nThe Jacobian of this layer is diagonal.\n")
    problems = early_uses(terms, pages)
    assert len(problems) == 1
    assert problems[0].startswith(f"{name}:") and "'Jacobian' before 08_" in problems[0]
