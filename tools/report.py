"""The stamp of every generated report in benchmarks/results/: what wrote it, where, when.

A measurement is only as good as what it names: the commit (and whether the tree had
uncommitted changes), the date, the CPU model, the logical cores and the threads.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def cpuinfo(field: str) -> str | None:
    """The first ``field`` of /proc/cpuinfo (Linux), or None where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return cpuinfo("model name") or platform.processor() or platform.machine()


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    # the reports themselves do not count: one measurement may follow another
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                            ":(exclude)benchmarks/results"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return (out or "unknown") + (" (with uncommitted changes)" if dirty else "")


def invocation(module: str, argv: list[str] | None) -> str:
    """The command line that ran ``module`` with ``argv`` (``sys.argv[1:]`` when None)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python -m", module, *args])


def header(title: str, command: str, threads: str) -> list[str]:
    """A report's first lines: its title, the command that wrote it and the stamp."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"# {title}",
        "",
        f"Written by `{command}`; do not edit by hand.",
        "",
        f"- commit {commit()}, {now}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; {threads}",
    ]


def write(name: str, lines: list[str]) -> Path:
    """Write ``lines`` to benchmarks/results/``name``.md and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return path
