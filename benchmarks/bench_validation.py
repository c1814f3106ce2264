"""Wall-clock time of the validation commands, for a given commit and for the working tree.

    python -m benchmarks.bench_validation                         # the working tree
    python -m benchmarks.bench_validation --rev acb532c --rev HEAD --targets nbval nbval-portable

For each revision a throw-away ``git worktree`` is checked out under ``/tmp`` (the working tree
itself is measured in place when no ``--rev`` is given), the project's ``.venv`` is linked into
it, and each make target is run with the venv's install stamps marked current (``make -o``,
and the worktree's requirements and pyproject dated back, which a recursive make also sees),
so that nothing is installed and only the target's own work is timed; a run that changed the
venv anyway stops the benchmark. ``PYTHONPATH`` puts the
checked-out ``nnlib`` ahead of the editable install. The table is written to
benchmarks/results/validation.md.

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

from tools import report

ROOT = Path(__file__).resolve().parent.parent
STAMPS = (".venv/.installed", ".venv/.installed-book")


def run_target(tree: Path, target: str) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = ["make", "--no-print-directory", *(f"-o{s}" for s in STAMPS), target]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=env)
    return time.perf_counter() - start, result.returncode


# What a make target's install step depends on. `make -o` marks the stamps current for the
# make it is given to, not for a recursive one (GNU make does not pass -o down): the baseline's
# `make test` calls `$(MAKE) nbval-portable`, which reinstalled that revision's pins, its nnlib
# (editable, from the worktree) and the kernel spec into the shared venv, and timed the install.
INSTALL_INPUTS = ("requirements.txt", "requirements-book.txt", "pyproject.toml")
KERNEL_SPEC = ROOT / ".venv" / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"


def checkout(rev: str, where: Path) -> Path:
    tree = where / rev.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=ROOT, check=True)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    for name in INSTALL_INPUTS:  # older than the stamps, for every make, recursive or not
        if (tree / name).exists():
            os.utime(tree / name, (0, 0))
    return tree


def venv_state() -> tuple[str, float]:
    """The kernel spec and the install stamp: a target that reinstalls changes them."""
    spec = KERNEL_SPEC.read_text() if KERNEL_SPEC.exists() else ""
    stamp = ROOT / STAMPS[0]
    return spec, stamp.stat().st_mtime if stamp.exists() else 0.0


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
                    before = venv_state()
                    seconds, rc = run_target(tree, target)
                    if venv_state() != before:
                        raise SystemExit(
                            f"make {target} at {rev} reinstalled into the shared "
                            "venv: its time includes the install; restore it with `make -B venv`"
                        )
                    rows.append((target, rev, seconds, rc))
                    print(f"## {target} @ {rev}: {seconds:.0f} s (exit {rc})", flush=True)
        finally:
            for _rev, tree in trees:
                if tree != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)

    load = os.getloadavg()[0]
    lines = [*report.header("Seconds of the validation commands",
                            report.invocation("benchmarks.bench_validation", argv),
                            f"load average at the end {load:.2f}"), "",
             "| command | revision | seconds | exit |", "|---|---|---:|---:|"]  # fmt: skip
    lines += [f"| `make {target}` | {rev} | {seconds:.0f} | {rc} |" for target, rev, seconds, rc
              in rows]  # fmt: skip
    print("\n".join(lines))
    print(f"report: {report.write('validation', lines)}")


if __name__ == "__main__":
    main()
