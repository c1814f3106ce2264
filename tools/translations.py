"""Check the Chinese edition's message catalogs (locales/zh_CN/LC_MESSAGES/**/*.po).

    python -m tools.translations [FILE.po ...]    # all catalogs when no file is given

A message fails when it is untranslated, fuzzy or obsolete, or when its translation does not
keep the English message's markup: the same multiset of MyST roles (``{glue:text}`key```,
``{ref}`...```, ``{cite}`...``` ...), of math spans (``$...$``, ``$$...$$``) and of inline code
spans, character for character; only the visible text of a cross-reference with its own
text (``{ref}`text <label>```) may be translated. tests/test_translations.py runs this over
every catalog.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from babel.messages.pofile import read_po

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
