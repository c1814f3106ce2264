"""Move the glue calls out of a page's lesson cells into hidden cells after them.

    python -m tools.fold_checks chapters/*.md           # rewrite the pages in place
    python -m tools.fold_checks --check chapters/*.md   # list lesson cells that still glue

A ``glue(key, value, display=False)`` call records a number for the prose; it teaches
nothing, so a reader should not have to read it between the lines of the lesson. Each code
cell's top-level glue statements (a ``glue(...)`` call, or a ``for`` loop whose body is only
glue calls) move into a new cell right after it, tagged ``remove-input`` (the book does not
show it; a notebook still runs it) and, where the lesson cell's output is not compared, also
``nbval-ignore-output`` (its values come from that cell). A statement stays where it is when
a later statement of its cell could change what it reads (assigns to a name it reads, or
calls a method on one), since moving it would then glue another value. A cell that only
glues is tagged ``remove-input`` itself. Re-execute the pages afterwards (``make notebooks``).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

from .cells import code_cells

HIDDEN = "remove-input"
IGNORED = "nbval-ignore-output"
HEADER = "# the numbers the text quotes, recorded for it"


def _is_glue_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "glue"
        and any(
            k.arg == "display" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in node.value.keywords
        )
    )


def is_glue_statement(node: ast.stmt) -> bool:
    """A hidden glue call, or a loop (for) whose body is only such statements."""
    if _is_glue_call(node):
        return True
    return isinstance(node, ast.For) and not node.orelse and all(map(is_glue_statement, node.body))


def only_glue(source: str) -> bool:
    """True for a cell that only records numbers for the prose (``fold`` moves them there
    from the cell before, whose asserts check them)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(map(is_glue_statement, body))


def _read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _changed(node: ast.AST) -> set[str]:
    """Names a statement may change: stored to, or the root of a stored attribute or item,
    or of a method call (``x.append(...)``)."""
    changed = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            changed.add(n.id)
        target = None
        if isinstance(n, ast.Attribute | ast.Subscript) and isinstance(n.ctx, ast.Store | ast.Del):
            target = n.value
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            target = n.func.value
        while isinstance(target, ast.Attribute | ast.Subscript):
            target = target.value
        if isinstance(target, ast.Name):
            changed.add(target.id)
    return changed


def movable(source: str) -> list[ast.stmt]:
    """The top-level glue statements of a cell that can move after the cell unchanged."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return []
    moved = [node for node in body if is_glue_statement(node)]
    while True:  # until no candidate is blocked by a statement that stays
        staying = [i for i, node in enumerate(body) if node not in moved]
        blocked = []
        for node in moved:
            i = body.index(node)
            reads = _read(node) - {"glue"}
            if isinstance(node, ast.For):
                reads -= _read(node.target)
            later = set().union(*(_changed(body[k]) for k in staying if k > i))
            if reads & later:
                blocked.append(node)
        if not blocked:
            return moved
        moved = [node for node in moved if node not in blocked]


def fold(text: str) -> tuple[str, int]:
    """The page with its glue statements folded; the number of statements moved."""
    lines = text.split("\n")
    count = 0
    for cell in reversed(code_cells(lines)):
        start, first, end, tags = cell.fence, cell.first, cell.end, list(cell.tags)
        if HIDDEN in tags:
            continue
        source = "\n".join(lines[first:end])
        moved = movable(source)
        if not moved:
            continue
        spans = {(n.lineno, n.end_lineno) for n in moved}
        rest = [n for n in ast.parse(source).body if (n.lineno, n.end_lineno) not in spans]
        if not rest:  # the whole cell records numbers: hide it where it is
            if lines[start + 1] == "---":
                continue  # options in a YAML block: left as they are
            option = next(
                (k for k in range(start + 1, first) if lines[k].startswith(":tags:")), None
            )
            if option is None:
                lines[start + 1 : start + 1] = [f":tags: [{HIDDEN}]", ""]
            else:
                lines[option] = f":tags: [{', '.join(tags + [HIDDEN])}]"
            count += len(moved)
            continue
        taken = set()
        for node in moved:  # source lines of each statement, with the comments just above it
            top = node.lineno - 1
            while top > 0 and lines[first + top - 1].lstrip().startswith("#"):
                top -= 1
            taken.update(range(top, node.end_lineno))
        cell = source.split("\n")
        kept = [line for k, line in enumerate(cell) if k not in taken]
        glued = [line for k, line in enumerate(cell) if k in taken]
        while kept and not kept[-1].strip():
            kept.pop()
        kept = re.sub(r"\n{4,}", "\n\n\n", "\n".join(kept)).split("\n")
        new_tags = [HIDDEN] + ([IGNORED] if IGNORED in tags else [])
        fence = re.match(r"^`{3,}", lines[end]).group(0)
        new_cell = ["", f"{fence}{{code-cell}} ipython3", f":tags: [{', '.join(new_tags)}]", "",
                    HEADER, *glued, fence]  # fmt: skip
        lines[first : end + 1] = kept + [fence] + new_cell
        count += len(moved)
    return "\n".join(lines), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("pages", nargs="+", type=Path)
    args = parser.parse_args(argv)
    left = 0
    for page in args.pages:
        text = page.read_text(encoding="utf-8")
        folded, count = fold(text)
        if args.check:
            left += count
            if count:
                print(f"{page}: {count} glue statements in lesson cells")
        elif count:
            page.write_text(folded, encoding="utf-8")
            print(f"{page}: moved {count}")
    return 1 if args.check and left else 0


if __name__ == "__main__":
    sys.exit(main())
