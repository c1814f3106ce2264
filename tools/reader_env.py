"""`make reader-env`: every page run as a reader runs it, outside this repository.

A reader opens a page in their own Jupyter, Colab or Binder, where nnlib is whatever ``pip
install`` gave them and the book's build tools (myst-nb) and test tools are absent. This
measurement builds nnlib's wheel from a copy of its sources, installs it into a fresh
virtual environment with only Jupyter's kernel and notebook runner besides, copies each page's
``.ipynb`` (outputs removed) into a temporary folder, and executes it there top to bottom,
first cell (the install cell) included; a page passes when no cell raises (asserts only:
outputs are not compared, the reader's PyTorch may differ from the pinned one). It writes
benchmarks/results/reader-env.md: the set-up time, each page's result and seconds, and any
file a page left beside itself. Not part of `make test`.

    python -m tools.reader_env [--venv /tmp/nnlib-reader-env] [--pages chapters/04_*.ipynb]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.report import commit, cpu_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REPORT = RESULTS / "reader-env.md"
# what a reader's Jupyter has besides the pip-installed nnlib: a kernel and a notebook runner
JUPYTER = ["ipykernel", "nbclient"]
TIMEOUT_S = 1200

# run inside the reader's venv: execute one notebook, report what happened as JSON
RUNNER = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.monotonic()
error = None
try:
    NotebookClient(nb, timeout=int(sys.argv[2]), kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[3]}}).execute()
except CellExecutionError as exc:
    error = str(exc).strip().splitlines()[-1][:300]
    for i, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            error = f"cell {i}: {error}"
            break
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"[:300]
nbformat.write(nb, path)
print(json.dumps({"seconds": time.monotonic() - start, "error": error}))
"""


def copy_sources(dest: Path) -> Path:
    """nnlib's package sources alone (what a git checkout of the repository gives pip)."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "nnlib", dest / "nnlib", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a reader's kernel: the venv first on PATH, no PYTHONPATH, nothing
    of this repository's venv, one default thread setting."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND", "JUPYTER_PATH")
           and not k.startswith(("OMP_", "MKL_", "ATEN_"))}  # fmt: skip
    path = [p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    env["VIRTUAL_ENV"] = str(venv)
    return env


def set_up(venv: Path, work: Path) -> tuple[float, str]:
    """Build the wheel, make the fresh venv, install it; return seconds and torch's version."""
    start = time.monotonic()
    src = copy_sources(work / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(work / "dist"), str(src)], check=True)  # fmt: skip
    (wheel,) = (work / "dist").glob("nnlib-*.whl")
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = clean_env(venv)
    pip = [python, "-m", "pip", "install", "--quiet", "--progress-bar", "off"]
    subprocess.run([*pip, str(wheel), *JUPYTER], check=True, env=env, cwd=work)
    subprocess.run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                   check=True, env=env, cwd=work, stdout=subprocess.DEVNULL)  # fmt: skip
    probe = ("import importlib.util, nnlib, torch; "
             "assert importlib.util.find_spec('myst_nb') is None, 'myst-nb is installed'; "
             "print(torch.__version__, nnlib.__file__)")  # fmt: skip
    out = subprocess.run([python, "-c", probe], check=True, env=env, cwd=work,
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    if str(ROOT) in out[1]:
        raise RuntimeError(f"nnlib was imported from the repository ({out[1]}), not the wheel")
    return time.monotonic() - start, out[0]


def installed(venv: Path) -> set[str]:
    """The distributions installed in ``venv``, as name==version."""
    freeze = [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"]
    out = subprocess.run(freeze, env=clean_env(venv), capture_output=True, text=True, check=True)
    return {line.strip() for line in out.stdout.splitlines() if "==" in line}


def run_page(venv: Path, ipynb: Path, work: Path) -> dict:
    folder = work / "pages" / ipynb.stem
    folder.mkdir(parents=True)
    copy = folder / ipynb.name
    nb = json.loads(ipynb.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    copy.write_text(json.dumps(nb))
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", RUNNER, str(copy), str(TIMEOUT_S), str(folder)],
        env=clean_env(venv), cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    try:
        record = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        record = {"seconds": float("nan"), "error": (result.stderr.strip() or "no output")[-300:]}
    record["left"] = sorted(p.name for p in folder.iterdir() if p != copy)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--venv", type=Path, default=Path(tempfile.gettempdir()) / "nnlib-reader-env"
    )
    parser.add_argument("--pages", nargs="*", type=Path)
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if args.venv.resolve().is_relative_to(ROOT):
        parser.error(f"--venv must be outside the repository; got {args.venv}")
    pages = args.pages or sorted((ROOT / "chapters").glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="reader-env-") as tmp:
        work = Path(tmp)
        setup_s, torch_version = set_up(args.venv, work)
        print(f"set-up: {setup_s:.0f} s (wheel, fresh venv, torch {torch_version})", flush=True)
        before = installed(args.venv)
        results = {}
        for page in pages:
            results[page.stem] = run_page(args.venv, page.resolve(), work)
            r = results[page.stem]
            print(f"{page.stem}: {'FAILED ' + r['error'] if r['error'] else 'passed'} "
                  f"({r['seconds']:.0f} s)", flush=True)  # fmt: skip
        added = sorted(installed(args.venv) - before)

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    passed = sum(not r["error"] for r in results.values())
    lines = [
        "# The pages in a reader's own environment",
        "",
        "Written by `make reader-env` (tools/reader_env.py); do not edit by hand. Each page ran",
        "from a copy outside the repository, in a fresh venv holding only nnlib's wheel (with",
        f"its dependencies), {' and '.join(JUPYTER)}; its first cell installed the rest. A page",
        "passes when no cell raises; outputs are not compared.",
        "",
        f"- commit {commit()}, {now}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; PyTorch's default threads",
        f"- Python {sys.version.split()[0]}, PyTorch {torch_version} (what pip chose)",
        f"- set-up (wheel build, fresh venv, install): {setup_s:.0f} s",
        f"- installed by the pages' first cells: {', '.join(added) or 'nothing'}",
        f"- pages passed: {passed} of {len(results)}",
        "",
        "| page | result | seconds | files left beside the page |",
        "|---|---|---:|---|",
    ]
    for stem, r in results.items():
        result = "passed" if not r["error"] else "failed: `" + r["error"].replace("|", "\\|") + "`"
        left = ", ".join(r["left"]) or "none"
        lines.append(f"| {stem} | {result} | {r['seconds']:.0f} | {left} |")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    print(f"{passed} of {len(results)} pages passed; report: {args.report}")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
