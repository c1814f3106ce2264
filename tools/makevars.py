"""The Makefile's settings, as make expands them: the tests and tools use the project's own
flags.

    python -m tools.makevars NBVAL_FLAGS BOOK_FLAGS

``make_variable("NBVAL_FLAGS")`` asks make itself (``make -s print-NBVAL_FLAGS``), so a test
that runs nbval or builds the book with it checks what ``make test`` really runs: weakening a
flag in the Makefile weakens the test's run too, and the test's proof of failure notices.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a make that runs the tests passes to the makes they start: its command line's variables
# (`make test WORKERS=1`) override the Makefile's own assignments in every sub-make.
MAKE_ENVIRONMENT = ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL")


def make_environment(makefile: Path | None) -> dict[str, str] | None:
    """The environment for make: inherited for the project's Makefile (a variable given to
    `make test` is part of what it runs), without the calling make's variables for a planted
    copy, whose own text is the point: an override of the setting it plants would hide it."""
    if makefile is None:
        return None
    return {k: v for k, v in os.environ.items() if k not in MAKE_ENVIRONMENT}


def make_variable(name: str, makefile: Path | None = None) -> str:
    """The expanded value of the Makefile variable ``name`` ("" if it is not defined)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"name must be a make variable name; got {name!r}")
    command = ["make", "-s", "--no-print-directory", "-f", str(makefile or ROOT / "Makefile"),
               f"print-{name}"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True,
                            env=make_environment(makefile))  # fmt: skip
    return result.stdout.strip()


if __name__ == "__main__":
    for variable in sys.argv[1:]:
        print(f"{variable} = {make_variable(variable)}")
