"""Check that no page uses a glossary term before the page that explains it.

    python -m tools.term_order        # list every early use; exit status 1 if there is one

Each entry of ``glossary.md`` ends with ``First explained in {ref}`label`.``, naming the
section that explains the term. A page that comes before that section's page in the table of
contents (``_toc.yml``) must not use the term in its prose, unless the use is itself a link
(a ``{ref}`` or ``{term}`` role, which the reader can follow forward) or sits inside
quotation marks (the words of a source article, quoted). The explaining page must use the
term, so that a label pointing at the wrong page fails too.

A term's names are the entry's English head (``stochastic gradient descent``) and the Latin
abbreviations in its parentheses (``SGD``). A name with a capital letter is matched with its
case (``Adam``, ``Hessian``), one without in any case; a plural ``s`` or ``es`` and a hyphen
for a space (``cross entropy``, ``cross-entropy``) match too. Prose is what
``tools.prose_numbers`` reads as prose: roles, math and code are not.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .notebooks import toc_chapters
from .prose_numbers import prose_of_page

ROOT = Path(__file__).resolve().parents[1]
INTRODUCED = re.compile(r"First explained in \{ref\}`(?:[^`<]*<)?([\w:-]+)>?`\.\s*$")
LABEL = re.compile(r"^\(([\w:-]+)\)=\s*$", re.MULTILINE)
QUOTED = re.compile(r'"[^"]*"|“[^”]*”')


@dataclass(frozen=True)
class Term:
    """A glossary entry: its heading, the names it is found by, the label that explains it."""

    heading: str
    names: tuple[str, ...]
    label: str | None

    def pattern(self) -> re.Pattern:
        alternatives = []
        for name in self.names:
            words = [re.escape(w) for w in re.split(r"[\s-]+", name)]
            if name.endswith("y") and name[-2:-1] not in "aeiou":
                words[-1] = words[-1][:-1] + "(?:y|ie)"  # entropy, entropies
            body = r"(?:e?s)?[\s-]+".join(words)  # basins of attraction
            flags = "" if any(c.isupper() for c in name) else "(?i:"
            alternatives.append(f"{flags}{body}{')' if flags else ''}")
        return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?:e?s)?(?![\w-])")


def _names(heading: str) -> tuple[str, ...]:
    """``stochastic gradient descent (随机梯度下降, SGD)`` -> the head and the Latin aliases."""
    head, _, rest = heading.partition(" (")
    names = [head.strip()]
    for part in re.split(r"[,;/]", rest.rstrip(")")):
        part = part.strip()
        if part and part.isascii() and part not in names and not part.startswith("for "):
            names.append(part)
    return tuple(names)


def glossary_terms(text: str) -> list[Term]:
    """The entries of the ``{glossary}`` block of ``glossary.md``'s text."""
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms, heading, body = [], None, []

    def close():
        if heading:
            match = INTRODUCED.search(" ".join(" ".join(body).split()))
            terms.append(Term(heading, _names(heading), match.group(1) if match else None))

    for line in block.splitlines():
        if line and not line[0].isspace():
            close()
            heading, body = line.strip(), []
        elif line.strip():
            body.append(line.strip())
    close()
    return terms


def toc_pages(root: Path = ROOT) -> list[Path]:
    """The chapters' sources in the order of the table of contents."""
    return [root / f"{f}.md" for f in toc_chapters(root / "_toc.yml")]


def early_uses(terms: list[Term], pages: list[tuple[str, str]]) -> list[str]:
    """Every problem: a term without a known label, a label on a page that never uses the
    term, or a use of a term on a page before its explaining page. ``pages``: (name, text)
    in reading order."""
    where = {}
    for index, (_, text) in enumerate(pages):
        for label in LABEL.findall(text):
            where[label] = index
    prose = [
        [(line, QUOTED.sub("…", block)) for line, block in prose_of_page(text)] for _, text in pages
    ]
    problems = []
    for term in terms:
        if term.label is None:
            problems.append(f"glossary: {term.heading!r} does not say where it is first explained")
            continue
        if term.label not in where:
            problems.append(f"glossary: {term.heading!r} names {term.label!r}, on no page")
            continue
        found = term.pattern()
        home = where[term.label]
        if not any(found.search(block) for _, block in prose[home]):
            problems.append(
                f"{pages[home][0]}: explains {term.heading!r} ({term.label}) but never names it"
            )
        for index in range(home):
            for line, block in prose[index]:
                for match in found.finditer(block):
                    problems.append(
                        f"{pages[index][0]}:{line}: {match.group(0)!r} before "
                        f"{pages[home][0]} explains it ({term.label})"
                    )
    return problems


def check(root: Path = ROOT) -> list[str]:
    terms = glossary_terms((root / "glossary.md").read_text(encoding="utf-8"))
    pages = [(p.stem, p.read_text(encoding="utf-8")) for p in toc_pages(root)]
    return early_uses(terms, pages)


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
