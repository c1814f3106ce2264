"""The chapter pipeline: execute each chapters/*.md into its .ipynb, and check the pairs.

    python -m tools.notebooks execute chapters/04_measuring_error.md [...]
    python -m tools.notebooks sync chapters/04_measuring_error.md [...]
    python -m tools.notebooks check chapters/*.ipynb

``execute`` puts the install cell the page's imports need first (tools/install_cell.py),
reads the MyST Markdown notebook with jupytext, runs it top to bottom in a fresh
kernel (working directory: the chapter's folder) and writes the paired ``.ipynb`` with its
outputs and execution counts. Cell ids are deterministic, no timing metadata is stored and
printed text is merged into one output per stream, so re-executing an unchanged chapter
leaves the file byte-identical.

``sync`` copies a chapter's Markdown cells, and code cells whose change is confined to
comments, into its ``.ipynb`` without executing anything, and refuses when any code cell
differs otherwise (code, tags, figure options): outputs depend only on code, so a change of
prose or comments alone needs no re-execution.

``check`` fails when a pair's inputs differ (cell types, sources, tags), when a page does
not start with the install cell a reader runs first (tools/install_cell.py), or when a code
cell of an ``.ipynb`` has no stored execution count: nbval silently skips such a cell, so an
unexecuted notebook would check nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import tokenize
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from tools import fold_checks, install_cell

KERNEL = "python3"
TIMEOUT_S = 600


def toc_files(toc_path: Path) -> list[str]:
    """Every page of a Jupyter Book table of contents (``_toc.yml``), the root first."""
    import yaml

    toc = yaml.safe_load(Path(toc_path).read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for key, value in node.items():
                if key != "file":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in toc.items() if k != "root"})
    return pages


def toc_chapters(toc_path: Path) -> list[str]:
    """The chapters (files under ``chapters/``) of a table of contents, in reading order."""
    return [f for f in toc_files(toc_path) if f.startswith("chapters/")]


def paired_path(path: Path, suffix: str) -> Path:
    return Path(path).with_suffix(suffix)


def coalesce_streams(nb) -> None:
    """Merge consecutive stdout (or stderr) outputs of a cell into one.

    How a kernel splits printed text into messages depends on timing; merging makes the
    stored notebook independent of it.
    """
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            if (merged and out.get("output_type") == "stream"
                    and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == out.get("name")):  # fmt: skip
                merged[-1]["text"] = merged[-1]["text"] + out["text"]
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged


def execute(md_path: Path) -> Path:
    """Execute the notebook ``md_path`` in a fresh kernel; write and return its .ipynb."""
    md_path = Path(md_path)
    install_cell.write_md(md_path)  # the first cell installs what the page's imports need
    os.environ.pop("MPLBACKEND", None)  # the kernel inherits it; it needs the inline backend
    nb = jupytext.read(md_path)
    for i, cell in enumerate(nb.cells):  # deterministic ids: re-execution gives identical files
        cell.id = f"cell-{i}"
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name=KERNEL,
        record_timing=False,
        resources={"metadata": {"path": str(md_path.parent.resolve())}},
    )
    out = paired_path(md_path, ".ipynb")
    try:
        client.execute()
    finally:  # on an error too, so the failing cell's traceback can be read in the .ipynb
        coalesce_streams(nb)
        jupytext.write(nb, out, fmt="ipynb")
    return out


def sync(md_path: Path) -> Path:
    """Copy the Markdown cells of ``md_path`` into its executed .ipynb; return the .ipynb.
    Raises ValueError when a code cell differs (the chapter needs ``execute``)."""
    md_path = Path(md_path)
    out = paired_path(md_path, ".ipynb")
    ours, stored = jupytext.read(md_path), jupytext.read(out)
    mine, theirs = input_signature(ours), input_signature(stored)
    code_differs = len(mine) != len(theirs) or any(
        (a[0], code_tokens(a[1]), *a[2:]) != (b[0], code_tokens(b[1]), *b[2:])
        for a, b in zip(mine, theirs, strict=False)
        if "code" in (a[0], b[0])
    )
    if code_differs:
        raise ValueError(f"{md_path}: a code cell changed; run make notebook NB={md_path}")
    for cell, new in zip(stored.cells, ours.cells, strict=True):
        cell.source = new.source  # prose, or code whose comments alone changed
    jupytext.write(stored, out, fmt="ipynb")
    return out


def code_tokens(source: str) -> tuple:
    """The Python tokens of a code cell without its comments and blank lines: two sources
    with the same tokens run the same code. Source that does not tokenize (a magic, say)
    is compared as it is."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source.strip() + "\n").readline)
        return tuple(
            (t.type, t.string) for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL)
        )
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return (source.strip(),)


def input_signature(nb) -> list[tuple[str, str, tuple[str, ...], str]]:
    """What defines a notebook's inputs: each cell's type, source, tags, and the options the
    book renders from its metadata (myst-nb's figure caption and name, image alt text)."""
    return [
        (
            cell.cell_type,
            cell.source.strip(),
            tuple(cell.get("metadata", {}).get("tags", ())),
            json.dumps(cell.get("metadata", {}).get("mystnb", {}), sort_keys=True),
        )
        for cell in nb.cells
    ]


# nbval's other ways to exempt a cell. Only the `nbval-ignore-output` tag is allowed here, and
# a cell carrying it must assert its claims (tests/book/test_notebooks.py); a cell skipped, or
# allowed to raise, or exempted by a comment, would escape both checks unnoticed.
FORBIDDEN_TAGS = ("nbval-skip", "raises-exception", "nbval-raises-exception")
FORBIDDEN_COMMENTS = re.compile(
    r"^\s*#\s*NBVAL_(IGNORE_OUTPUT|SKIP|RAISES_EXCEPTION|CHECK_OUTPUT)\b", re.M | re.I
)


def exempted_cells(nb) -> list[str]:
    """Cells that use an nbval exemption other than the `nbval-ignore-output` tag."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", ()))
        for tag in sorted(tags.intersection(FORBIDDEN_TAGS)):
            problems.append(f"cell {i}: tag {tag!r} exempts it from nbval")
        match = FORBIDDEN_COMMENTS.search(cell.source)
        if match:
            problems.append(f"cell {i}: comment {match.group(0).strip()!r} exempts it from nbval")
    return problems


# --- checks of one executed notebook: each returns the problems it finds ----------------------
VARYING = re.compile(r"grad_fn=<|device='|0x[0-9a-f]{6,}|/tmp/|/home/|/work/|/root/")


def execution_count_problems(nb) -> list[str]:
    """The stored counts must be 1, 2, 3, ...: one fresh run, no cell re-run or skipped."""
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    expected = list(range(1, len(counts) + 1))
    return [] if counts == expected else [f"execution counts {counts}, not {expected}"]


def comparability_problems(nb) -> list[str]:
    """Only outputs nbval can compare reliably: PNG figures, no reprs that vary."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if "execution" in cell.metadata:
            problems.append(f"cell {i} stores timing metadata")
        for out in cell.outputs:
            if out.output_type == "error":
                problems.append(f"cell {i} stored an error")
            data = out.get("data", {})
            if "image/svg+xml" in data:
                problems.append(f"cell {i}: figures must be PNG")
            text = out.get("text", "") + "".join(
                v if isinstance(v, str) else "" for k, v in data.items() if k.startswith("text/")
            )
            if VARYING.search(text):
                problems.append(f"cell {i} prints something that varies: {text[:80]!r}")
            if out.get("name") == "stderr":
                problems.append(f"cell {i} writes to stderr: {out.text[:80]!r}")
        if cell.source.rstrip().endswith("plt.show()") and not any(
            "image/png" in o.get("data", {}) for o in cell.outputs
        ):
            problems.append(f"cell {i} draws a figure but stored no PNG")
    return problems


def figure_problems(nb) -> list[str]:
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if any("image/png" in out.get("data", {}) for out in cell.outputs):
            options = cell.metadata.get("mystnb", {})
            if not options.get("figure", {}).get("caption", "").strip():
                problems.append(f"cell {i}: no caption")
            if not options.get("figure", {}).get("name"):
                problems.append(f"cell {i}: no figure name")
            if not options.get("image", {}).get("alt", "").strip():
                problems.append(f"cell {i}: no alt text")
    return problems


def exercise_problems(nb) -> list[str]:
    sources = [c.source for c in nb.cells]
    exercises = sum(s.count("```{exercise}") for s in sources)
    problems = [] if exercises >= 2 else [f"{exercises} exercises, fewer than 2"]
    starts = [i for i, s in enumerate(sources) if "```{solution-start}" in s]
    if len(starts) != exercises:
        problems.append(f"{exercises} exercises but {len(starts)} solutions")
    for i in starts:
        if "class: dropdown" not in sources[i]:
            problems.append(f"cell {i}: the solution is not in a dropdown")
        end = next(
            (j for j in range(i + 1, len(sources)) if "```{solution-end}" in sources[j]), None
        )
        if end is None:
            problems.append(f"cell {i}: the solution never ends")
            continue
        code = [c for c in nb.cells[i + 1 : end] if c.cell_type == "code"]
        if not code or not all(c.execution_count for c in code):
            problems.append(f"cell {i}: the solution has no executed code")
    return problems


def _glued(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("application/papermill.record/text/plain")
            if text is not None:
                yield text


def glue_type_problems(nb) -> list[str]:
    """A glued NumPy or torch scalar renders as 'np.float64(0.5)' in the prose."""
    return [f"glued {t!r}" for t in _glued(nb) if re.match(r"(np\.|numpy|tensor\()", t)]


def glue_rounding_problems(nb) -> list[str]:
    """A float glued at full precision (9.594202241291117e-06) differs in its last digits
    between CPU and GPU; the prose shows a few digits, so glue the rounded value."""
    problems = []
    for text in _glued(nb):
        if re.fullmatch(r"-?\d+\.\d+(e[-+]?\d+)?", text):
            digits = re.sub(r"e[-+]?\d+$", "", text).replace(".", "").lstrip("-0")
            if len(digits) > 6:
                problems.append(f"glued {text!r}: round it to the digits the prose shows")
    return problems


def unchecked_ignored_cells(nb) -> list[str]:
    """A cell tagged nbval-ignore-output (a training run whose digits depend on the machine)
    must assert what the text says about it, or nothing would check it. A cell that only
    glues the numbers of the cell before it (or of the cell before a run of such glue cells)
    prints nothing and is checked there."""

    def ignored(cell) -> bool:
        return "nbval-ignore-output" in cell.get("metadata", {}).get("tags", [])

    def asserts(cell) -> bool:
        return bool(re.search(r"^\s*assert ", cell.source, re.M))

    problems = []
    for i, cell in enumerate(nb.cells):
        if not ignored(cell) or asserts(cell):
            continue
        before = [c for c in nb.cells[:i] if c.cell_type == "code"]
        while before and fold_checks.only_glue(before[-1].source):
            before.pop()  # other glue cells of the same checked cell
        if (
            fold_checks.only_glue(cell.source)
            and before
            and ignored(before[-1])
            and asserts(before[-1])
        ):
            continue  # the numbers of the checked cell above
        problems.append(f"cell {i}: output not compared and no assert")
    return problems


NOTEBOOK_CHECKS = [
    execution_count_problems,
    comparability_problems,
    figure_problems,
    exercise_problems,
    glue_type_problems,
    glue_rounding_problems,
    unchecked_ignored_cells,
]


def compare_pair(md_path: Path, ipynb_path: Path) -> list[str]:
    """Differences between the inputs of a .md notebook and its .ipynb (empty when equal)."""
    ours = input_signature(jupytext.read(md_path))
    theirs = input_signature(jupytext.read(ipynb_path))
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{md_path.name} has {len(ours)} cells, {ipynb_path.name} {len(theirs)}")
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        for what, x, y in zip(("type", "source", "tags", "figure options"), a, b, strict=True):
            if x != y:
                problems.append(
                    f"cell {i}: {what} differs between {md_path.name} and {ipynb_path.name}"
                )
    return problems


def missing_execution_counts(ipynb_path: Path) -> list[int]:
    """Indices of code cells that have no stored execution count (nbval would skip them)."""
    nb = nbformat.read(ipynb_path, as_version=4)
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and cell.source.strip() and cell.execution_count is None
    ]


def check(paths: list[Path]) -> list[str]:
    """The problems of each pair, named by either of its files."""
    problems = []
    for ipynb in sorted({Path(p).with_suffix(".ipynb") for p in paths}):
        if not ipynb.exists():
            problems.append(f"{ipynb.with_suffix('.md')} has no executed {ipynb.name}")
            continue
        md = paired_path(ipynb, ".md")
        if not md.exists():
            problems.append(f"{ipynb} has no paired {md.name}")
        else:
            problems += [f"{ipynb}: {p}" for p in compare_pair(md, ipynb)]
            problems += install_cell.problems(md)
        nb = nbformat.read(ipynb, as_version=4)
        problems += [f"{ipynb}: {p}" for p in exempted_cells(nb)]
        problems += [f"{ipynb}: {p}" for check in NOTEBOOK_CHECKS for p in check(nb)]
        missing = missing_execution_counts(ipynb)
        if missing:
            problems.append(
                f"{ipynb}: code cells {missing} have no execution count; run make notebooks"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("execute").add_argument("paths", nargs="+", type=Path)
    sub.add_parser("sync").add_argument("paths", nargs="+", type=Path)
    sub.add_parser("check").add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "sync":
        for md in args.paths:
            print(f"  wrote {sync(md)}")
        return 0
    if args.command == "execute":
        for md in args.paths:
            print(f"executing {md}", flush=True)
            print(f"  wrote {execute(md)}")
        return 0
    problems = check(args.paths)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
