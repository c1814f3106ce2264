"""Check the Chinese edition's message catalogs (locales/zh_CN/LC_MESSAGES/**/*.po).

    python -m tools.translations [FILE.po ...]    # all catalogs when no file is given

A message fails when it is untranslated, fuzzy or obsolete, or when its translation does not
keep the English message's markup: the same multiset of MyST roles (``{glue:text}`key```,
``{ref}`...```, ``{cite}`...``` ...), of math spans (``$...$``, ``$$...$$``) and of inline code
spans, character for character; only the visible text of a cross-reference with its own
text (``{ref}`text <label>```) may be translated. It also fails when its translation writes a
variant of a term that the edition does not use, outside roles, math and code (``鲁棒`` for
稳健, ``对数几率`` for logit, ...), or words a sentence every page has (the download line)
otherwise than the edition does: tools/zh_terms.py lists both, docs/zh_style.md says why.
tests/book/test_translations.py runs this over every catalog.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from babel.messages.pofile import read_po

from .zh_terms import SENTENCES, TERMS

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"

ROLE = re.compile(r"\{[A-Za-z][\w:.-]*\}`[^`]*`")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$", re.DOTALL)
CODE = re.compile(r"``[^`]+``|`[^`]+`")


# a cross-reference with its own text, {ref}`text <label>`: the text may be translated
LINK_TEXT = re.compile(r"^(\{(?:ref|doc|numref|term)\}`)[^`<]*<([^`>]+)>`$")


def markup(text: str) -> Counter:
    """The spans a translation must keep unchanged: roles, then math, then inline code.
    A cross-reference counts by its target: {ref}`文字 <label>` keeps {ref}`text <label>`."""
    spans = []
    for pattern in (ROLE, MATH, CODE):
        spans += pattern.findall(text)
        text = pattern.sub(" ", text)
    return Counter(LINK_TEXT.sub(r"\1<\2>`", span) for span in spans)


def markup_spans(text: str) -> list[tuple[int, int]]:
    """Where in ``text`` the spans that ``markup`` counts lie: (start, end) of each."""
    found = []
    for pattern in (ROLE, MATH, CODE):
        for match in pattern.finditer(text):
            found.append(match.span())
        text = pattern.sub(lambda m: "\0" * len(m.group(0)), text)  # same offsets, no match
    return found


def term_uses(text: str) -> list[tuple[str, str, str]]:
    """(the English term, the variant written, the Chinese to write) for each use in
    ``text`` of a variant that tools/zh_terms.py rules out. A variant wholly inside a role, a
    formula, inline code or one of the term's ``allow`` phrases is not a use."""
    spans = markup_spans(text)
    found = []
    for term in TERMS:
        exempt = spans + [(m.start(), m.end()) for phrase in term.allow
                          for m in re.finditer(re.escape(phrase), text)]  # fmt: skip
        for pattern in term.forbidden:
            for match in re.finditer(pattern, text):
                if not any(s <= match.start() and match.end() <= e for s, e in exempt):
                    found.append((term.en, match.group(0), term.zh))
    return found


def expected_sentence(english: str) -> str | None:
    """The one translation of a sentence every page has (tools/zh_terms.py), or None."""
    for sentence in SENTENCES:
        match = re.fullmatch(sentence.en, english)
        if match:
            return sentence.zh.format(**match.groupdict())
    return None


def problems(path: Path) -> list[str]:
    with path.open("rb") as f:
        catalog = read_po(f)
    found = []
    name = path.relative_to(CATALOGS) if path.is_relative_to(CATALOGS) else path
    for message in catalog:
        if not message.id:
            continue  # the header
        short = message.id if len(message.id) < 70 else message.id[:67] + "..."
        if not message.string:
            found.append(f"{name}: untranslated: {short!r}")
        elif message.fuzzy:
            found.append(f"{name}: fuzzy: {short!r}")
        else:
            want, got = markup(message.id), markup(message.string)
            if want != got:
                missing, extra = list((want - got).elements()), list((got - want).elements())
                found.append(f"{name}: markup differs in {short!r}: missing {missing}, "
                             f"extra {extra}")  # fmt: skip
            formula = message.string == message.id and "\\" in message.id  # display math
            for term, variant, chinese in [] if formula else term_uses(message.string):
                found.append(f"{name}: {variant!r} for {term!r} in {short!r}: "
                             f"write {chinese!r} (docs/zh_style.md)")  # fmt: skip
            sentence = expected_sentence(message.id)
            if sentence is not None and message.string != sentence:
                found.append(f"{name}: {short!r} is not worded as on every other page: "
                             f"write {sentence!r}")  # fmt: skip
    for message in catalog.obsolete.values():
        found.append(f"{name}: obsolete: {message.id[:67]!r}")
    return found


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or sorted(CATALOGS.rglob("*.po"))
    found = [p for path in paths for p in problems(path)]
    print("\n".join(found) if found else f"{len(paths)} catalogs: every message translated")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
