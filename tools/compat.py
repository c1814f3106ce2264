"""`make compat TORCH=X.Y`: every page and nnlib's unit tests on another PyTorch release.

Readers run the pages with whatever PyTorch their Jupyter, Colab or Binder has. This tool
installs PyTorch X.Y (and the torchvision that pip pairs with it) into a separate virtual
environment, .venv-compat/torch-X.Y, with every other pin of requirements.txt unchanged;
executes every chapter there (asserts only: nbval-lax, outputs not compared, since digits
may differ between releases) and runs nnlib's unit tests; and writes what passed and what
failed to benchmarks/results/compat-torch-X.Y.md. A measurement, not part of `make test`.

    python -m tools.compat 2.13
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tools.makevars import make_variable
from tools.report import commit, cpu_model
from tools.robustness import read_junit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def requirements_for(torch_version: str, text: str) -> str:
    """requirements.txt with PyTorch X.Y and a torchvision pip chooses for it."""
    lines = []
    for line in text.splitlines():
        name = re.split(r"[=<>~!\s]", line.strip(), maxsplit=1)[0].lower()
        if name == "torch":
            line = f"torch=={torch_version}.*"
        elif name == "torchvision":
            line = "torchvision"
        elif line.strip().startswith("-r "):
            line = "-r " + str(ROOT / line.split(None, 1)[1])
        elif line.strip() == "-e .":
            continue  # installed after, without its dependencies: its torch range is what
            # this measurement decides
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("torch", help="a PyTorch release, X.Y (e.g. 2.13)")
    parser.add_argument("--workers", default="auto")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d+\.\d+", args.torch):
        parser.error(f"TORCH must be a release as X.Y, e.g. 2.13; got {args.torch!r}")

    venv = ROOT / ".venv-compat" / f"torch-{args.torch}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = venv / "requirements.txt"
    requirements.write_text(requirements_for(args.torch, (ROOT / "requirements.txt").read_text()))
    pip = [str(python), "-m", "pip", "install", "--quiet", "--progress-bar", "off"]
    # the package index's builds only: a local CPU-only wheel (PyTorch's "+cpu" builds, kept
    # in a pip config's find-links) would pass for X.Y with a torchvision built for another
    # torch, whose compiled operators then fail to load
    pip_env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""}
    subprocess.run([*pip, "-r", str(requirements)], check=True, env=pip_env)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, env=pip_env)
    subprocess.run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name",
                    "python3", "--display-name", f"Python 3 (torch {args.torch})"],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    version = [str(python), "-c", "import torch; print(torch.__version__)"]
    installed = subprocess.run(version, capture_output=True, text=True, check=True).stdout.strip()
    pairing = [str(python), "-c", "import torch, torchvision; torchvision.ops.nms("
               "torch.zeros(1, 4), torch.zeros(1), 0.5)"]  # fmt: skip
    if subprocess.run(pairing, capture_output=True).returncode != 0:
        sys.exit(f"torch {installed} and the torchvision in {venv} do not load together; "
                 "remove the folder and rerun")  # fmt: skip

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    pages = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "chapters").glob("*.ipynb"))
    tests = make_variable("LIB_TESTS").split()
    runs = {}
    for label, flags, files in (
        ("pages (asserts only)", ["--nbval-lax", "--nbval-current-env"], pages),
        ("nnlib unit tests", [], tests),
    ):
        junit = venv / f"junit-{len(runs)}.xml"
        start = time.monotonic()
        subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q",
                        "-n", args.workers, "--dist", "loadfile", *flags,
                        f"--junitxml={junit}", *files], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        cases, failures = read_junit(junit)
        runs[label] = (len(cases), failures, time.monotonic() - start)

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# The pages and nnlib on PyTorch {installed}",
        "",
        "Written by `make compat TORCH=" + args.torch + "` (tools/compat.py); do not edit by hand.",
        "",
        f"- commit {commit()}, {now}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; one thread per process",
        "",
        "| what | items | failed | seconds |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {label} | {n} | {len(f)} | {t:.0f} |" for label, (n, f, t) in runs.items()]
    lines += ["", "## Failures", ""]
    failures = [(label, f) for label, (_, fs, _) in runs.items() for f in fs]
    if not failures:
        lines.append("None.")
    else:
        lines += ["| where | item | what failed |", "|---|---|---|"]
        for _, f in failures:
            what = f["what"].replace("|", "\\|")
            lines.append(f"| {f['where']} | {f['name']} | `{what}` |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = RESULTS / f"compat-torch-{args.torch}.md"
    report.write_text("\n".join(lines) + "\n")
    for label, (n, f, t) in runs.items():
        print(f"PyTorch {installed}, {label}: {n} run, {len(f)} failed, {t:.0f} s")
    print(f"report: {report.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
