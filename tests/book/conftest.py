"""The book's fixtures: one build of both editions per test run, shared by the tests that read
the built HTML (browser, translations, no-network, PDF)."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.book.support import ROOT
from tools import i18n
from tools.makevars import make_variable

BOOK_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Every test under tests/book/ is marked `book`: `pytest -m "not book"` runs nnlib's alone."""
    for item in items:
        if BOOK_TESTS in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.book)


# --- one build of the book per test run -----------------------------------------------------
# The browser tests, the translation tests, the no-network test and the PDF tests all read the
# built HTML of both editions. The first worker to ask builds it, under a file lock, into a
# folder named after the run (pytest-xdist gives its workers one run id); the other worker
# waits for it and reads the same files. Built as `make book` builds it: English with
# `jupyter-book build` and the Makefile's BOOK_FLAGS, Chinese with tools/i18n.py. Where the
# network can be dropped (unshare -n) the English build runs without it and without PyTorch.
BOOK_RUNS = ROOT / "_build" / "test-book"
RUN_ID = os.environ.setdefault("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)


def network_off_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def network_off() -> bool:
    """Whether commands can be run here with no network interface (unshare -n)."""
    return network_off_available()


@dataclass(frozen=True)
class BuiltBook:
    html: Path  # the English edition; the Chinese one is html / "zh_CN"
    offline: bool  # English edition built with no network interface, `import torch` failing

    @property
    def chinese(self) -> Path:
        return self.html / i18n.LANGUAGE


def _build_book(out: Path) -> BuiltBook:
    flags = make_variable("BOOK_FLAGS").split()
    blocker = out / "no_torch" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("the book build must not need torch")')
    offline = network_off_available()
    jb = Path(sys.executable).with_name("jupyter-book")
    command = [str(jb), "build", *flags, str(ROOT), "--path-output", str(out)]
    command = ["unshare", "-n", *command] if offline else command
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = out / "_build" / "html"
    i18n.sphinx("html", html / i18n.LANGUAGE, *i18n.CHINESE, *flags)
    return BuiltBook(html, offline)


@functools.cache
def built_book() -> BuiltBook:
    BOOK_RUNS.mkdir(parents=True, exist_ok=True)
    for old in BOOK_RUNS.iterdir():  # earlier runs' books and locks, a day old
        if time.time() - old.stat().st_mtime > 86400:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
    out = BOOK_RUNS / RUN_ID
    done = out / "built.json"
    with open(BOOK_RUNS / f"{RUN_ID}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            book = _build_book(out)
            done.write_text(json.dumps({"offline": book.offline}))
    return BuiltBook(out / "_build" / "html", json.loads(done.read_text())["offline"])


@pytest.fixture(scope="session")
def book() -> BuiltBook:
    return built_book()
