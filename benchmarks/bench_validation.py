"""Wall-clock time of the validation commands, for a given commit and for the working tree.

    python -m benchmarks.bench_validation                         # the working tree
    python -m benchmarks.bench_validation --rev acb532c --rev HEAD --targets nbval nbval-portable

For each revision a throw-away ``git worktree`` is checked out under ``/tmp`` (the working tree
itself is measured in place when no ``--rev`` is given), the project's ``.venv`` is linked into
it, and each make target is run with the venv's install stamps marked old (``make -o``), so
that nothing is installed and only the target's own work is timed. ``PYTHONPATH`` puts the
checked-out ``nnlib`` ahead of the editable install. The table printed at the end is the one in
the README.

A measurement, not a test: nothing here fails on a slow machine. Run nothing else that uses
PyTorch meanwhile (on two cores, two PyTorch processes slow each other down many times).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMPS = (".venv/.installed", ".venv/.installed-book")


def run_target(tree: Path, target: str) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = ["make", "--no-print-directory", *(f"-o{s}" for s in STAMPS), target]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=env)
    return time.perf_counter() - start, result.returncode


def checkout(rev: str, where: Path) -> Path:
    tree = where / rev.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=ROOT, check=True)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    return tree


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", action="append", default=[], help="commit to measure")
    parser.add_argument("--targets", nargs="+", default=["nbval", "nbval-portable", "test"])
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
        trees = [(rev, checkout(rev, Path(tmp))) for rev in args.rev] or [("tree", ROOT)]
        try:
            for target in args.targets:
                for rev, tree in trees:
                    seconds, rc = run_target(tree, target)
                    rows.append((target, rev, seconds, rc))
                    print(f"## {target} @ {rev}: {seconds:.0f} s (exit {rc})", flush=True)
        finally:
            for _rev, tree in trees:
                if tree != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)

    load = os.getloadavg()[0]
    print(f"\n{os.cpu_count()} CPUs; load average at the end {load:.2f}\n")
    print("| command | revision | seconds | exit |\n|---|---|---:|---:|")
    for target, rev, seconds, rc in rows:
        print(f"| `make {target}` | {rev} | {seconds:.0f} | {rc} |")


if __name__ == "__main__":
    main()
