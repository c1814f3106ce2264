"""`make robustness`: run every page again under other seeds and report every assert that fails.

A page checks its claims on the runs its seeds produce. A claim stated in general words
must hold for other seeds too. This tool executes every chapter with all of its seeds moved
(asserts only: nbval-lax, nothing compared), once per shift, and writes a report of every
cell that failed, with the assert that failed, to benchmarks/results/robustness.md. It is a
measurement, like `make mutation`, not a part of `make test`.

    python -m tools.robustness                 # shifts 1 and 2
    python -m tools.robustness --shifts 1 2 3  # more
    python -m tools.robustness --pages chapters/15_long_lags.ipynb

How the seeds move: the kernels start with an IPython start-up file (tools/seed_shift.py)
that adds ``1000 * shift`` to every seed a page sets through ``torch.manual_seed``,
``torch.Generator().manual_seed``, ``numpy.random.seed``, ``numpy.random.default_rng`` and
``random.seed`` (``nnlib.seed_everything`` goes through these). Data splits made by
scikit-learn's ``random_state`` do not move.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tools.report import commit, cpu_model

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "results" / "robustness.md"
STARTUP = Path(__file__).with_name("seed_shift.py")


def failed_assert(text: str) -> str:
    """The statement of the page that failed (up to three lines) and the error, from nbval's
    failure text (its colour codes removed; junit writes ESC as "#x1B")."""
    text = re.sub(r"(\x1b|#x1B)\[[0-9;]*m", "", text)
    lines = text.splitlines()
    parts = []
    # IPython marks the failing line with "---->" or "-->" before its number
    arrows = [i for i, line in enumerate(lines) if re.match(r"^\s*-+>\s*\d+", line)]
    if arrows:
        statement = [re.sub(r"^\s*-+>\s*\d+\s?", "", lines[arrows[-1]])]
        for line in lines[arrows[-1] + 1 : arrows[-1] + 3]:
            if not re.match(r"^\s+\d+ ", line):
                break
            statement.append(re.sub(r"^\s+\d+ ", "", line))
        parts.append(" ".join(part.strip() for part in statement))
    errors = [line for line in lines if re.match(r"\w*(Error|Exception)\b", line)]
    if errors:
        parts.append(errors[-1].strip())
    return " | ".join(parts)[:300] or (lines[-1][:200] if lines else "")


def read_junit(path: Path) -> tuple[list[str], list[dict]]:
    """The test cases of a pytest junit file, and each failure: where (``NN_slug.ipynb`` for
    a chapter, else the test's class name), name (the cell or test) and what failed."""
    cases, failures = [], []
    for case in ET.parse(path).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        cases.append(f"{classname}::{name}")
        for failure in [*case.iter("failure"), *case.iter("error")]:
            where = (
                ".".join(classname.split(".")[-2:]) if classname.endswith("ipynb") else classname
            )
            failures.append({"where": where, "name": name,
                             "what": failed_assert(failure.get("message", "") + "\n"
                                                   + (failure.text or ""))})  # fmt: skip
    return cases, failures


def run_shift(shift: int, pages: list[str], workers: str) -> tuple[list[str], list[dict], float]:
    """Execute the pages with seeds moved by ``shift``; (cells run, failures, seconds)."""
    with tempfile.TemporaryDirectory() as ipython_dir:
        startup = Path(ipython_dir) / "profile_default" / "startup"
        startup.mkdir(parents=True)
        shutil.copy(STARTUP, startup / "00-seed-shift.py")
        junit = Path(ipython_dir) / "junit.xml"
        env = {**os.environ, "IPYTHONDIR": ipython_dir, "NNLIB_SEED_SHIFT": str(shift),
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                   "--nbval-lax", "--nbval-current-env", "-n", workers, "--dist", "loadfile",
                   f"--junitxml={junit}", *pages]  # fmt: skip
        start = time.monotonic()
        subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        seconds = time.monotonic() - start
        cells, failures = read_junit(junit)
    return cells, failures, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shifts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pages", nargs="+",
                        default=sorted(str(p.relative_to(ROOT))
                                       for p in (ROOT / "chapters").glob("*.ipynb")))  # fmt: skip
    parser.add_argument("--workers", default="auto")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if any(shift < 1 for shift in args.shifts):
        parser.error("--shifts must be positive integers (0 is the pages' own seeds)")

    import torch

    rows, total_failures = [], 0
    for shift in args.shifts:
        cells, failures, seconds = run_shift(shift, args.pages, args.workers)
        total_failures += len(failures)
        rows.append((shift, cells, failures, seconds))
        print(f"shift {shift}: {len(cells)} cells, {len(failures)} failed, {seconds:.0f} s")

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Robustness: every page under other seeds",
        "",
        "Written by `make robustness` (tools/robustness.py); do not edit by hand.",
        "",
        f"- commit {commit()}, {now}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; PyTorch {torch.__version__};"
        " one thread per page",
        f"- pages: {len(args.pages)}; seeds moved by 1000 × shift",
        "",
        "| shift | cells run | cells failed | seconds |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {s} | {len(c)} | {len(f)} | {t:.0f} |" for s, c, f, t in rows]
    lines += ["", "## Failures", ""]
    if total_failures == 0:
        lines.append("None: every assert of every page held under every shift.")
    else:
        lines += ["| shift | page | cell | what failed |", "|---:|---|---|---|"]
        for shift, _, failures, _ in rows:
            for f in failures:
                what = f["what"].replace("|", "\\|")
                lines.append(f"| {shift} | {f['where']} | {f['name']} | `{what}` |")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    shown = args.report.relative_to(ROOT) if args.report.is_relative_to(ROOT) else args.report
    print(f"report: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
