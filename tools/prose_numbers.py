"""Find numbers typed by hand in the book's prose.

    python -m tools.prose_numbers chapters/*.md claims.md     # list every unallowed numeral

A number in the prose must come from the cell that computes it (a ``{glue:text}`` role) or
sits in math, code or a role. What remains, numerals in plain text, is either on the page's
allowlist (``tests/book/prose_numbers/<page>.toml``: a phrase that contains the numeral, with the
reason it is not a measurement, such as a default slope or a layer size) or a typed number,
which the test ``tests/book/test_prose_numbers.py`` rejects.

The prose is read with the MyST parser the book is built with, so what counts as text is
what Sphinx renders as text: inline code, math, roles (``{glue:text}``, ``{ref}``,
``{cite}``), link targets, comments, code fences, math blocks and directive options are not
prose. Directive bodies (admonitions, exercises, solutions, figures' captions) are prose and
are read recursively, as are the captions and alt texts of code cells' figures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

ALLOWLISTS = Path(__file__).resolve().parent.parent / "tests" / "book" / "prose_numbers"

# A numeral: digits, with decimals, thousands separators or an exponent, not glued to a
# letter on the left (float32, L1, x2 are names, not numbers).
NUMERAL = re.compile(r"(?<![A-Za-z_\d.])\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?")
# Directives whose body is not prose (tabularcolumns: a LaTeX column specification).
NON_PROSE_DIRECTIVES = {
    "math", "code-block", "code", "code-cell", "sourcecode", "raw", "bibliography",
    "tabularcolumns",
}  # fmt: skip
NO_PROSE_ARGUMENT = {"figure", "image", "include", "literalinclude", "glue:figure"}
SKIPPED_INLINE = {"code_inline", "math_inline", "math_single", "myst_role", "html_inline"}


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table")
    for plugin in (myst_role_plugin, myst_block_plugin, dollarmath_plugin, amsmath_plugin,
                   colon_fence_plugin):  # fmt: skip
        md.use(plugin)
    return md


_MD = _parser()


@dataclass(frozen=True)
class Numeral:
    """A numeral in a page's prose: the number, the text around it and the source line."""

    page: str
    line: int
    number: str
    text: str  # the prose block it sits in, roles and math replaced by '…'

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.number!r} in {self.text!r}"


def _directive_body(content: str) -> tuple[str, int]:
    """A directive's body without its options (``:key: value`` lines or a ``---`` block)."""
    lines = content.split("\n")
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
        start = end + 1
    else:
        while start < len(lines) and re.match(r"^\s*:[\w-]+:", lines[start]):
            start += 1
    return "\n".join(lines[start:]), start


def prose_blocks(markdown: str, first_line: int = 0) -> list[tuple[int, str]]:
    """(line, text) of every prose block of ``markdown``: roles, math and code are '…'."""
    blocks = []
    for token in _MD.parse(markdown):
        line = first_line + (token.map[0] if token.map else 0)
        if token.type == "inline":
            parts = [
                child.content if child.type == "text" else "…"
                if child.type in SKIPPED_INLINE else " "
                for child in token.children or []
                if child.type in SKIPPED_INLINE | {"text", "softbreak", "hardbreak"}
            ]  # fmt: skip
            blocks.append((line + 1, "".join(parts)))
        elif token.type in ("fence", "colon_fence"):
            match = re.match(r"^\{([\w:-]+)\}\s*(.*)$", token.info.strip())
            if not match or match.group(1) in NON_PROSE_DIRECTIVES:
                continue  # a code block, or a directive whose body is code or math
            name, argument = match.groups()
            if argument and name not in NO_PROSE_ARGUMENT:
                blocks.append((line + 1, argument))  # an admonition's title, say
            body, skipped = _directive_body(token.content)
            blocks += prose_blocks(body, line + 1 + skipped)
    return blocks


def _code_cell_prose(content: str) -> list[str]:
    """Figure captions and alt texts in a code cell's options (its ``---`` YAML block)."""
    lines = content.split("\n")
    if not lines or lines[0].strip() != "---":
        return []
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
    options = yaml.safe_load("\n".join(lines[1:end])) or {}
    mystnb = options.get("mystnb", {}) or {}
    texts = []
    for section, key in (("figure", "caption"), ("image", "alt")):
        value = (mystnb.get(section) or {}).get(key)
        if value:
            texts.append(str(value))
    return texts


def prose_of_page(text: str) -> list[tuple[int, str]]:
    """(line, text) of every prose block of a MyST page or notebook, 1-based source lines."""
    offset = 0
    front = re.match(r"\A---\n.*?\n---\n", text, flags=re.S)
    if front:
        offset = front.group(0).count("\n")
        text = text[front.end() :]
    blocks = prose_blocks(text, offset)
    for token in _MD.parse(text):
        if token.type == "fence" and token.info.strip().startswith("{code-cell}"):
            line = offset + token.map[0] + 1
            blocks += [(line, caption) for caption in _code_cell_prose(token.content)]
    return sorted(blocks, key=lambda b: b[0])


def numerals(path: Path) -> list[Numeral]:
    """Every numeral in the prose of a page (a MyST notebook or a Markdown page)."""
    path = Path(path)
    found = []
    for line, block in prose_of_page(path.read_text(encoding="utf-8")):
        for match in NUMERAL.finditer(block):
            found.append(Numeral(path.stem, line, match.group(0), " ".join(block.split())))
    return found


def load_allowlist(folder: Path = ALLOWLISTS) -> dict[str, dict[str, str]]:
    """page stem -> {phrase containing an allowed numeral: why it is not a measurement}.

    One file per page, ``<folder>/<page stem>.toml``, each line ``"phrase" = "reason"`` (the
    subset of TOML read here, so that Python 3.10 needs no TOML package), ``#`` comments.
    """
    return {path.stem: parse_allowlist(path) for path in sorted(Path(folder).glob("*.toml"))}


_ENTRY = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$')


def parse_allowlist(path: Path) -> dict[str, str]:
    """The ``"phrase" = "reason"`` lines of one allowlist file; anything else is an error."""
    entries = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENTRY.match(line.strip())
        if not match:
            raise ValueError(f'{path}:{number}: expected a line "phrase" = "reason"; got {line!r}')
        phrase, reason = (json.loads(f'"{group}"') for group in match.groups())
        if phrase in entries:
            raise ValueError(f"{path}:{number}: {phrase!r} is listed twice")
        entries[phrase] = reason
    return entries


def _allowed(numeral: Numeral, phrases: dict[str, str]) -> bool:
    """True when the numeral lies inside an occurrence of one of the allowed phrases."""
    block = numeral.text
    for phrase in phrases:
        if numeral.number not in phrase:
            continue
        for occurrence in re.finditer(re.escape(" ".join(phrase.split())), block):
            inner = NUMERAL.finditer(block, occurrence.start(), occurrence.end())
            if any(m.group(0) == numeral.number for m in inner):
                return True
    return False


def typed_numbers(paths, allowlist: dict[str, dict[str, str]]) -> list[Numeral]:
    """The numerals of ``paths`` that no allowlisted phrase covers."""
    return [
        n for p in paths for n in numerals(p) if not _allowed(n, allowlist.get(Path(p).stem, {}))
    ]


def unused_phrases(paths, allowlist: dict[str, dict[str, str]]) -> list[str]:
    """Allowlisted phrases that no longer cover any numeral (stale entries)."""
    stale = []
    for p in paths:
        stem = Path(p).stem
        found = numerals(p)
        for phrase in allowlist.get(stem, {}):
            if not any(_allowed(n, {phrase: ""}) for n in found):
                stale.append(f"{stem}: {phrase!r}")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="+", type=Path)
    args = parser.parse_args(argv)
    typed = typed_numbers(args.pages, load_allowlist())
    for numeral in typed:
        print(numeral)
    return 1 if typed else 0


if __name__ == "__main__":
    sys.exit(main())
