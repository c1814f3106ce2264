"""What the book's tests share: the repository's path, and make's view of the Makefile (the
commands a target runs, a target's prerequisites, a copy of the Makefile with a planted
weakening), read from make itself rather than from the Makefile's text."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tools.makevars import make_environment

ROOT = Path(__file__).resolve().parents[2]  # the repository


def _make(*arguments: str, makefile: Path | None = None, check: bool = True) -> str:
    """make's standard output for ``arguments``, run on the project's Makefile or a copy."""
    command = ["make", "--no-print-directory", "-f", str(makefile or ROOT / "Makefile"),
               *arguments]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=check,
                            env=make_environment(makefile))  # fmt: skip
    return result.stdout


def _commands(output: str) -> list[str]:
    return output.replace("\\\n", " ").splitlines()  # continued recipe lines joined


def dry_run(target: str, *variables: str, makefile: Path | None = None) -> list[str]:
    """The commands `make <target> [VAR=value ...]` runs, as make prints them, continued recipe
    lines joined (nothing is executed; the venv's install stamps count as up to date)."""
    stamps = ("-o", ".venv/.installed", "-o", ".venv/.installed-book")
    return _commands(_make("-n", *stamps, target, *variables, makefile=makefile))


def planted_makefile(folder: Path, old: str, new: str) -> Path:
    """A copy of the Makefile in ``folder`` with ``old`` replaced by ``new``: for tests that
    plant a weakened setting and show that a check notices it."""
    text = (ROOT / "Makefile").read_text()
    if old not in text:
        raise ValueError(f"old must occur in the Makefile (the planted change no longer applies); "
                         f"got {old!r}")  # fmt: skip
    planted = Path(folder) / "Makefile"
    planted.write_text(text.replace(old, new))
    return planted


def prerequisites(target: str, makefile: Path | None = None) -> list[str]:
    """The prerequisites of ``target`` in make's database (``make -pq``), variables expanded."""
    database = _make("-pq", ".DEFAULT", makefile=makefile, check=False)  # -q: 1 = not done
    for line in database.splitlines():
        if line.startswith(f"{target}:") and not line.startswith(f"{target}::"):
            return line.split(":", 1)[1].split()
    raise ValueError(f"target must be a rule of the Makefile; got {target!r}")


def recipe(target: str, makefile: Path | None = None) -> list[str]:
    """The commands that remaking ``target`` runs (``make -n -B``: as if it were out of date,
    with those of any prerequisite that has a rule), nothing executed."""
    return _commands(_make("-n", "-B", target, makefile=makefile))
