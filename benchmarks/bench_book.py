"""Where the chapters' execution time goes: seconds per chapter and its slowest cells.

    python -m benchmarks.bench_book                      # every chapter, one at a time
    python -m benchmarks.bench_book chapters/12_remedies.md --threads 1

Each chapter is executed from its ``.md`` in a fresh kernel, exactly as ``make notebooks``
does, but nothing is written: the stored ``.ipynb`` files are untouched. ``--threads N`` sets
``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` for the kernel (PyTorch's intra-op threads). The
kernel's start-up is included in the chapter's time and reported apart.

A measurement, not a test: nothing here fails on a slow machine. Run nothing else that uses
PyTorch at the same time (on two cores two PyTorch processes slow each other down many times).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import jupytext
from nbclient import NotebookClient

from tools import report

ROOT = Path(__file__).resolve().parent.parent


def _seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def time_chapter(md_path: Path, threads: int | None = None) -> tuple[float, float, list]:
    """(total seconds, kernel start-up seconds, [(seconds, cell index, first line)])."""
    nb = jupytext.read(md_path)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", record_timing=True,
        resources={"metadata": {"path": str(md_path.parent.resolve())}},
    )  # fmt: skip
    start = time.perf_counter()
    with client.setup_kernel(env=env):
        startup = time.perf_counter() - start
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    total = time.perf_counter() - start
    cells = [
        (_seconds(cell), index, cell.source.strip().splitlines()[0][:60])
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and cell.source.strip()
    ]
    return total, startup, sorted(cells, reverse=True)


#: Every page should execute within this many seconds on the project's 2-core machine.
LIMIT_S = 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (kernel)")
    parser.add_argument("--slowest", type=int, default=3, help="slowest cells listed per chapter")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer; got {args.threads}")
    chapters = args.chapters or sorted((ROOT / "chapters").glob("*.md"))
    threads = f"{args.threads} intra-op threads" if args.threads else "PyTorch's default threads"
    header = ["| page | seconds | share | kernel start | slowest cells (seconds, index: first "
              "line) |", "| --- | ---: | ---: | ---: | --- |"]  # fmt: skip
    print("\n".join(header))
    rows = []
    for md in chapters:
        total, startup, cells = time_chapter(md, args.threads)
        slow = "; ".join(f"{s:.1f} s, {i}: `{line}`" for s, i, line in cells[: args.slowest])
        rows.append((md.stem, total, startup, slow))
        print(f"| {md.stem} | {total:.1f} | | {startup:.1f} | {slow} |", flush=True)
    grand = sum(total for _, total, _, _ in rows)
    over = [f"{stem} ({total:.0f} s)" for stem, total, _, _ in rows if total > LIMIT_S]
    over_limit = f"- pages over {LIMIT_S} s: {', '.join(over) if over else 'none'}"
    lines = [*report.header("Seconds per page", report.invocation("benchmarks.bench_book", argv),
                            threads), over_limit, "", *header]  # fmt: skip
    lines += [f"| {stem} | {total:.1f} | {total / grand:.0%} | {startup:.1f} | {slow} |"
              for stem, total, startup, slow in rows]  # fmt: skip
    lines.append(f"| all | {grand:.1f} | 100% | | |")
    print(lines[-1])
    if not args.chapters:  # a partial run does not replace the report of every page
        print(f"report: {report.write('pages', lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
