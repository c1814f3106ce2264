"""The code cells of a MyST Markdown page: where each one's code is, and its tags."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CodeCell:
    fence: int  # the line of the opening ```{code-cell} fence
    first: int  # the first line after the cell's options (a --- YAML block or :key: lines)
    end: int  # the line of the closing fence
    tags: tuple[str, ...]
    in_solution: bool  # inside an exercise's {solution-start} ... {solution-end}


def code_cells(lines: list[str]) -> list[CodeCell]:
    """Every {code-cell} of a page given as its lines, in order."""
    cells, i, solution = [], 0, False
    while i < len(lines):
        if lines[i].startswith(("```{solution-start}", "```{solution-end}")):
            solution = "start" in lines[i]
        fence = re.match(r"^(`{3,})\{code-cell\}", lines[i])
        if not fence:
            i += 1
            continue
        start, j, tags = i, i + 1, []
        if j < len(lines) and lines[j] == "---":
            j = lines.index("---", j + 1) + 1
            found = re.search(r"^tags:\s*\[(.*)\]", "\n".join(lines[start + 1 : j]), re.M)
            tags = [t.strip() for t in found.group(1).split(",")] if found else []
        while j < len(lines) and re.match(r"^:[\w-]+:", lines[j]):
            found = re.match(r"^:tags:\s*\[(.*)\]", lines[j])
            if found:
                tags = [t.strip() for t in found.group(1).split(",") if t.strip()]
            j += 1
        end = j
        while lines[end] != fence.group(1):
            end += 1
        cells.append(CodeCell(start, j, end, tuple(tags), solution))
        i = end + 1
    return cells
