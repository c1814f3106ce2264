"""Fit the chapters' code cells to the page's code column (``WIDTH`` characters).

    python -m tools.wrap_code chapters/*.md          # rewrite the cells in place
    python -m tools.wrap_code --check chapters/*.md  # list the lines that are too long

The book's code column shows at least 77 characters of code in any window 1200 pixels wide
or wider (from 1200 to 1300 pixels, where it is narrowest, _static/code.css sets code a
little smaller), where tests/book/test_browser.py checks that
no code scrolls sideways, and about 90 in the PDF. A cell is formatted by ruff at that
width; what ruff cannot shorten is then split here, and ruff runs again:

- a comment is wrapped into several comment lines (an end-of-line comment first moves to
  its own line above the code);
- a docstring (the first statement of a function or class body) is wrapped again, unless
  it holds a list or an example, whose lines must stay as they are;
- a one-line string literal is split at spaces into adjacent literals (Python joins them
  into one), inside parentheses that are added when the string is not already within
  brackets. An f-string is never split inside a replacement field (on Python 3.12 and later,
  where f-strings are no longer single tokens, f-strings are not split at all).

nnlib's code shown on a page with ``{literalinclude}`` and ``:pyobject:`` is checked against
the same width (``--check`` lists its long lines; it is not rewritten).

Each change keeps the program the same; what cannot be changed safely (a comment on the last
line of a multi-line string or after a backslash, a word longer than the line) is left.
Lines that still do not fit are listed, to be shortened by hand.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

from . import cells

WIDTH = 77
SOLUTION_WIDTH = 74  # inside a solution's box, which is narrower
DOCSTRING_QUOTES = ('"""', "'''")
FSTRING_START = getattr(tokenize, "FSTRING_START", -1)  # Python 3.12 and later
FSTRING_END = getattr(tokenize, "FSTRING_END", -1)
RUFF = str(Path(sys.executable).with_name("ruff"))


def ruff_format(source: str, width: int = WIDTH) -> str:
    result = subprocess.run(
        [RUFF, "format", "--isolated", "--line-length", str(width), "-"],
        input=source, capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise ValueError(f"ruff could not format this cell:\n{source}\n{result.stderr}")
    return result.stdout


def _split_points(body: str, fstring: bool, raw: bool) -> list[int]:
    """Indices just after each space in ``body`` at which a literal may be cut (not inside
    an f-string's {...}, and not inside an escape such as \\N{EM DASH})."""
    points, depth, i = [], 0, 0
    while i < len(body):
        c = body[i]
        if fstring and c in "{}":
            if i + 1 < len(body) and body[i + 1] == c:  # {{ or }}
                i += 2
                continue
            depth += 1 if c == "{" else -1
        elif c == "\\" and not raw:
            if body.startswith("N{", i + 1):
                i = body.find("}", i) + 1 or len(body)
            else:
                i += 2
            continue
        elif c == " " and depth == 0:
            points.append(i + 1)
        i += 1
    return points


def _split_string(token: str, room: int) -> list[str] | None:
    m = re.fullmatch(r"([rRbBfFuU]{0,2})(['\"])(.*)\2", token, flags=re.S)
    if m is None or "\n" in token or token[len(m.group(1)) :].startswith(DOCSTRING_QUOTES):
        return None  # multi-line or triple-quoted: left as it is
    prefix, quote, body = m.groups()
    fstring = "f" in prefix.lower()
    points = _split_points(body, fstring, raw="r" in prefix.lower())
    pieces, start = [], 0
    overhead = len(prefix) + 2
    while len(body) - start + overhead > room:
        cut = [p for p in points if start < p and p - start + overhead <= room]
        if not cut:
            break
        pieces.append(body[start : cut[-1]])
        start = cut[-1]
    pieces.append(body[start:])
    if len(pieces) == 1:
        return None
    out = []
    for piece in pieces:
        p = prefix
        if fstring and "{" not in piece and "}" not in piece:
            p = prefix.replace("f", "").replace("F", "")
        out.append(f"{p}{quote}{piece}{quote}")
    return out


def _wrap_comment(indent: str, text: str, width: int) -> list[str]:
    body = text.lstrip("#").strip()
    return textwrap.wrap(body, width - len(indent) - 2, break_long_words=False,
                         break_on_hyphens=False, initial_indent=indent + "# ",
                         subsequent_indent=indent + "# ")  # fmt: skip


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def _fix_comment(lines: list[str], n: int, tokens: list[tokenize.TokenInfo], width: int) -> bool:
    line = lines[n]
    comment = next(t for t in tokens if t.start[0] == n + 1 and t.type == tokenize.COMMENT)
    indent = line[: len(line) - len(line.lstrip())]
    code = line[: comment.start[1]].rstrip()
    if code.strip():  # an end-of-line comment goes above its code, where that is a line
        in_string = any(t.start[0] < n + 1 == t.end[0] for t in tokens
                        if t.type in (tokenize.STRING, FSTRING_END))  # fmt: skip
        if in_string or (n > 0 and lines[n - 1].rstrip("\n").endswith("\\")):
            return False
        wrapped = _wrap_comment(indent, comment.string, width)
        lines[n : n + 1] = [w + "\n" for w in wrapped] + [code + "\n"]
        return True
    first, last = n, n  # a comment line: its block of comment lines is wrapped as one
    block = re.compile(re.escape(indent) + r"#( |$)")
    while first > 0 and block.match(lines[first - 1]):
        first -= 1
    while last + 1 < len(lines) and block.match(lines[last + 1]):
        last += 1
    text = " ".join(line.strip()[1:].strip() for line in lines[first : last + 1])
    new = [w + "\n" for w in _wrap_comment(indent, text, width)]
    changed = new != lines[first : last + 1]
    lines[first : last + 1] = new
    return changed


def _docstring(tokens: list[tokenize.TokenInfo], k: int) -> bool:
    """Whether token ``k`` is a docstring: a triple-quoted string that is the first statement
    of an indented block (a function's or class's body), standing alone."""
    skip = (tokenize.NL, tokenize.COMMENT)
    before = [t for t in tokens[:k] if t.type not in skip][-1:]
    after = [t for t in tokens[k + 1 :] if t.type not in skip][:1]
    return (
        tokens[k].type == tokenize.STRING
        and tokens[k].string.startswith(DOCSTRING_QUOTES)
        and bool(before)
        and before[0].type == tokenize.INDENT
        and bool(after)
        and after[0].type == tokenize.NEWLINE
    )


LAYOUT = re.compile(r"^\s*(>>>|[-*+] |\d+[.)] )", re.M)  # a doctest or a list: lines that stay


def _fix_docstring(lines: list[str], token: tokenize.TokenInfo, width: int) -> bool:
    """A docstring's paragraphs wrapped again at ``width``, closing quotes on their own line."""
    quote, body = token.string[:3], token.string[3:-3]
    if LAYOUT.search(body):
        return False
    first, last = token.start[0] - 1, token.end[0] - 1
    indent = " " * token.start[1]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", body.strip())]
    new = []
    for k, paragraph in enumerate(paragraphs):
        wrapped = textwrap.wrap(paragraph, width - len(indent), break_long_words=False,
                                break_on_hyphens=False,
                                initial_indent=quote if k == 0 else "")  # fmt: skip
        new += ([""] if k else []) + wrapped
    new.append(quote)
    new = [(indent + w if w else "") + "\n" for w in new]
    changed = new != lines[first : last + 1]
    lines[first : last + 1] = new
    return changed


def _fix_string(lines: list[str], n: int, token: tokenize.TokenInfo, width: int) -> bool:
    line, col = lines[n], token.start[1]
    indent = line[: len(line) - len(line.lstrip())]
    inside = _bracket_depth("".join(lines), n, col) > 0
    inner = col if inside else len(indent) + 4
    pieces = _split_string(token.string, width - inner - 1)
    if pieces is None:
        return False
    before, after = line[:col], line[token.end[1] :]
    if inside:
        lines[n] = before + ("\n" + " " * col).join(pieces) + after
    else:
        body = "".join(f"{indent}    {p}\n" for p in pieces)
        lines[n] = before + "(\n" + body + indent + ")" + after
    return True


def _in_fstring(tokens: list[tokenize.TokenInfo]) -> list[bool]:
    """For each token, whether it lies inside an f-string (Python 3.12 and later tokenize
    an f-string's parts, and the strings inside its replacement fields, separately)."""
    depth, inside = 0, []
    for t in tokens:
        depth -= t.type == FSTRING_END
        inside.append(depth > 0)
        depth += t.type == FSTRING_START
    return inside


def _fix_line(lines: list[str], n: int, width: int) -> bool:
    """Shorten line ``n`` (0-based) of ``lines`` in place; False if nothing changed."""
    tokens = _tokens("".join(lines))
    if any(t.start[0] == n + 1 and t.type == tokenize.COMMENT for t in tokens):
        return _fix_comment(lines, n, tokens, width)
    for k, t in enumerate(tokens):
        if t.start[0] <= n + 1 <= t.end[0] and _docstring(tokens, k):
            return _fix_docstring(lines, t, width)
    nested = _in_fstring(tokens)
    strings = [t for t, inside in zip(tokens, nested, strict=True) if not inside
               and t.type == tokenize.STRING and t.start[0] == t.end[0] == n + 1]  # fmt: skip
    for token in sorted(strings, key=lambda t: len(t.string), reverse=True):
        if _fix_string(lines, n, token, width):
            return True
    return False


def _bracket_depth(source: str, n: int, col: int) -> int:
    depth = 0
    for t in _tokens(source):
        if t.start >= (n + 1, col):
            break
        if t.type == tokenize.OP:
            depth += t.string in "([{"
            depth -= t.string in ")]}"
    return depth


def _comments_above(source: str, width: int) -> str:
    """Each end-of-line comment on a line that is too long, moved to its own lines above
    (before ruff, which would otherwise break the code to keep the comment beside it)."""
    lines = source.splitlines(keepends=True)
    for n in reversed(range(len(lines))):
        if len(lines[n].rstrip("\n")) <= width:
            continue
        tokens = _tokens("".join(lines))
        comments = [t for t in tokens if t.start[0] == n + 1 and t.type == tokenize.COMMENT]
        if comments and lines[n][: comments[0].start[1]].strip():
            _fix_comment(lines, n, tokens, width)
    return "".join(lines)


PRAGMA = re.compile(r"# (fmt: (skip|off|on)|noqa\b.*)$")


def _drop_pragmas(source: str) -> str:
    """Formatter and linter comments (# fmt: skip, # noqa): the chapters are neither."""
    lines = source.splitlines(keepends=True)
    for t in reversed(_tokens(source)):
        if t.type == tokenize.COMMENT and PRAGMA.match(t.string):
            row, col = t.start[0] - 1, t.start[1]
            lines[row] = lines[row][:col].rstrip() + lines[row][t.end[1] :]
    return "".join(lines)


def fit(source: str, width: int = WIDTH) -> str:
    """The cell's code at ``width``: ruff, then the splits above, until nothing changes."""
    if source.lstrip().startswith(("%", "!")):
        return source
    source = _drop_pragmas(source)
    text = ruff_format(_comments_above(source, width), width)
    seen = {text}
    for _ in range(200):
        lines = text.splitlines(keepends=True)
        long = [i for i, line in enumerate(lines) if len(line.rstrip("\n")) > width]
        changed = False
        for i in long:
            if _fix_line(lines, i, width):
                changed = True
                break
        if not changed:
            break
        text = ruff_format("".join(lines), width)
        if text in seen:  # ruff undid the change: stop rather than go round
            break
        seen.add(text)
    return text.rstrip("\n")


def code_cells(text: str) -> list[tuple[int, int, int]]:
    """(first, end, width) of the code of each {code-cell} in a MyST Markdown text: its line
    range after the cell's options (a --- YAML block or :key: lines), and the width it must
    fit (narrower inside an exercise's solution, whose box is indented)."""
    return [
        (cell.first, cell.end, SOLUTION_WIDTH if cell.in_solution else WIDTH)
        for cell in cells.code_cells(text.splitlines())
    ]


def rewrite(path: Path) -> None:
    """Every code cell of the page fitted with `fit`; the rest of the file is untouched."""
    lines = path.read_text().splitlines()
    for first, end, width in reversed(code_cells(path.read_text())):
        while first < end and not lines[first].strip():  # a blank line after the options
            first += 1
        source = "\n".join(lines[first:end])
        if source.strip():
            lines[first:end] = fit(source, width).splitlines()
    path.write_text("\n".join(lines) + "\n")


def included_objects(text: str, folder: Path) -> list[tuple[Path, str]]:
    """(file, object) of each ``{literalinclude}`` with ``:pyobject:`` in a page: nnlib's own
    code, shown on the page, which must fit the same column (it is not reformatted here)."""
    found = re.findall(r"^`{3,}\{literalinclude\}\s*(\S+)\n:pyobject:\s*(\S+)", text, re.M)
    return [((folder / file).resolve(), name) for file, name in found]


def object_lines(path: Path, name: str) -> list[tuple[int, str]]:
    """(line number, text) of the class, function or method ``name`` (``Class.method``)."""
    import ast

    source = path.read_text()
    scope: list[ast.AST] = [ast.parse(source)]
    for part in name.split("."):
        scope = [n for s in scope for n in ast.iter_child_nodes(s)
                 if isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name == part]  # fmt: skip
        if not scope:
            raise ValueError(f"{path}: no object {name!r} to include")
    node = scope[0]
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = source.splitlines()
    return [(n + 1, lines[n]) for n in range(start - 1, node.end_lineno)]


def too_long(path: Path) -> list[str]:
    text = path.read_text()
    lines = text.splitlines()
    problems = [f"{path}:{n + 1}: {lines[n]}" for first, end, width in code_cells(text)
                for n in range(first, end) if len(lines[n]) > width]  # fmt: skip
    for source, name in included_objects(text, path.parent):
        problems += [f"{source}:{n}: ({name}, shown on {path.name}) {line}"
                     for n, line in object_lines(source, name) if len(line) > WIDTH]  # fmt: skip
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    problems = []
    for path in args.files:
        if not args.check:
            rewrite(path)
        problems += too_long(path)
    print(
        "\n".join(problems)
        or f"every code line fits ({WIDTH} characters, {SOLUTION_WIDTH} in solutions)"
    )
    sys.exit(1 if args.check and problems else 0)


if __name__ == "__main__":
    main()
