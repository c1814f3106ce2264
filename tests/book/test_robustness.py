"""`make robustness` (tools/robustness.py): the seeds really move, and a failure is reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat

from tests.book.support import ROOT


def _draws(shift: int) -> list[float]:
    """What a kernel-like process draws after the seed-shift start-up file has run."""
    code = (
        f"exec(open({str(ROOT / 'tools' / 'seed_shift.py')!r}).read())\n"
        "import json, random, numpy as np, torch, nnlib\n"
        "nnlib.seed_everything(0)\n"
        "a = torch.rand(1).item()\n"
        "b = torch.rand(1, generator=torch.Generator().manual_seed(3)).item()\n"
        "np.random.seed(0); c = float(np.random.rand())\n"
        "d = float(np.random.default_rng(0).random())\n"
        "random.seed(0); e = random.random()\n"
        "print(json.dumps([a, b, c, d, e]))\n"
    )
    env = {**os.environ, "NNLIB_SEED_SHIFT": str(shift)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return json.loads(out)


def test_the_seed_shift_moves_every_kind_of_seed_and_only_when_asked():
    unshifted, again, shifted = _draws(0), _draws(0), _draws(1)
    assert unshifted == again
    assert all(u != s for u, s in zip(unshifted, shifted, strict=True))


def test_a_claim_that_holds_for_one_seed_only_is_reported(tmp_path):
    """A page asserting a lucky draw passes as it is and fails once its seed moves."""
    import torch

    torch.manual_seed(0)
    lucky = torch.rand(1).item()
    torch.manual_seed(1000)
    moved = torch.rand(1).item()
    threshold = (lucky + moved) / 2  # between the two draws
    sign = "<" if lucky < moved else ">"
    page = tmp_path / "lucky.ipynb"
    cell = nbformat.v4.new_code_cell(
        f"import torch\ntorch.manual_seed(0)\nassert torch.rand(1).item() {sign} {threshold!r}"
    )
    cell.execution_count = 1
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), page)
    report = tmp_path / "report.md"
    subprocess.run([sys.executable, "-m", "tools.robustness", "--shifts", "1", "--workers", "1",
                    "--pages", str(page), "--report", str(report)], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    text = report.read_text()
    assert "| 1 | 1 | 1 |" in text, text  # one cell run, one failed
    assert "lucky.ipynb" in text and "assert torch.rand(1).item()" in text


def test_the_report_names_the_failing_statement_in_either_traceback_style():
    from tools.robustness import failed_assert

    for arrow in ("---->", "-->"):
        text = (
            "#x1B[31mAssertionError#x1B[39m  Traceback (most recent call last)\n"
            "    150 # a comment\n"
            f"#x1B[32m{arrow} #x1B[39m151 assert all(\n"
            "    152     x > 1 for x in xs\n"
            "    153 )\n"
            "#x1B[31mAssertionError#x1B[39m: \n"
        )
        assert failed_assert(text) == "assert all( x > 1 for x in xs ) | AssertionError:"


def test_compat_pins_the_release_and_installs_nnlib_apart():
    """`make compat` installs the other release with requirements.txt's other pins, and
    nnlib without its dependencies (its torch range is what the report decides)."""
    from tools.compat import requirements_for

    text = requirements_for("2.13", (ROOT / "requirements.txt").read_text())
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    assert "torch==2.13.*" in lines and "torchvision" in lines
    assert "-e ." not in lines and not any(line.startswith("-e ") for line in lines)
    assert "numpy==2.4.6" in lines
