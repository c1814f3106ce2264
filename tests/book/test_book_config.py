"""tools/book_config.py: the repository link and the Binder and Colab launch buttons."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.book.support import ROOT, dry_run
from tools import book_config
from tools.makevars import make_variable

REPO = "https://github.com/example-org/nn-book"


def _committed_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_with_repository_switches_on_the_link_and_the_launch_buttons():
    config = _committed_config()
    out = book_config.with_repository(config, REPO + ".git/", branch="release")
    assert out["repository"] == {"url": REPO, "branch": "release", "path_to_book": ""}
    assert out["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert out["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert out["html"]["use_repository_button"] is True
    assert out["html"]["home_page_in_navbar"] is True  # the rest of html is kept
    assert out["sphinx"] == config["sphinx"]
    assert "repository" not in config and config["html"]["use_repository_button"] is False


def test_the_committed_config_has_no_repository_to_link_to():
    config = _committed_config()
    assert "repository" not in config and "launch_buttons" not in config
    assert config["html"]["use_repository_button"] is False


@pytest.mark.parametrize(
    ("url", "branch", "message"),
    [
        ("https://gitlab.com/a/b", "main", "repository must be a GitHub URL"),
        ("github.com/a/b", "main", "repository must be a GitHub URL"),
        ("https://github.com/only-owner", "main", "got 'https://github.com/only-owner'"),
        (REPO, "main; rm -rf /", "branch must be a git branch name"),
    ],
)
def test_bad_repository_or_branch_is_named_in_the_error(url, branch, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        book_config.with_repository({}, url, branch)


def test_command_line_writes_yaml_and_rejects_a_bad_url():
    ok = subprocess.run(
        [sys.executable, "-m", "tools.book_config", "--repository", REPO, "_config.yml"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert yaml.safe_load(ok.stdout)["repository"]["url"] == REPO
    bad = subprocess.run(
        [sys.executable, "-m", "tools.book_config", "--repository", "ftp://x/y", "_config.yml"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "repository must be a GitHub URL" in bad.stderr


@pytest.mark.slow
def test_book_built_with_a_repository_has_launch_and_repository_buttons(tmp_path):
    """The same build as `make book BOOK_REPOSITORY=...`, into a temporary folder."""
    config = ROOT / "_config.test-repository.yml"  # beside _config.yml: paths resolve alike
    config.write_text(yaml.safe_dump(book_config.with_repository(_committed_config(), REPO)))
    try:
        jb = Path(sys.executable).with_name("jupyter-book")
        result = subprocess.run(
            [str(jb), "build", *make_variable("BOOK_FLAGS").split(), "--config", str(config),
             str(ROOT),
             "--path-output", str(tmp_path)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        config.unlink()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (tmp_path / "_build" / "html" / "chapters" / "04_measuring_error.html").read_text()
    notebook = "chapters/04_measuring_error.ipynb"
    assert f"https://mybinder.org/v2/gh/example-org/nn-book/main?urlpath=lab/tree/{notebook}" in (
        page.replace("&amp;", "&")
    )
    assert (
        f"https://colab.research.google.com/github/example-org/nn-book/blob/main/{notebook}" in page
    )
    assert f'href="{REPO}"' in page


def test_make_book_with_a_repository_builds_both_editions_from_it():
    """`make book BOOK_REPOSITORY=...` writes the augmented config first (a bad URL stops it
    there), then builds the English and the Chinese edition from it, so both have the
    buttons; without BOOK_REPOSITORY neither build names a config."""

    config = "--config _config.repository.yml"
    plain = "\n".join(dry_run("book"))
    assert "tools.i18n build &" in plain and "_config.repository.yml" not in plain
    line = next(line for line in dry_run("book", f"BOOK_REPOSITORY={REPO}") if " & " in line)
    write, builds = line.split(" || exit 1; ", 1)
    assert "tools.book_config" in write and REPO in write
    assert write.endswith("_config.yml > _config.repository.yml")
    assert f"tools.i18n build {config} &" in builds
    assert f"jupyter-book build -W -n --keep-going {config} ." in builds
    # then the downloads name nnlib's source: this repository at the commit built
    pinned = "\n".join(dry_run("book", f"BOOK_REPOSITORY={REPO}"))
    assert f'tools.install_cell pin _build/html --repository "{REPO}" --commit' in pinned
    assert "tools.install_cell pin" not in plain


def test_the_chinese_edition_gets_the_buttons_from_the_repository_config(tmp_path):
    """The Chinese build's Sphinx configuration (tools/i18n.py) from the augmented config has
    the repository link and the launch buttons; from _config.yml it has neither."""
    config = ROOT / "_config.test-repository-i18n.yml"  # beside _config.yml, as make writes it
    config.write_text(yaml.safe_dump(book_config.with_repository(_committed_config(), REPO)))
    try:
        from tools import i18n

        with_buttons = (i18n.write_conf(tmp_path / "with", config) / "conf.py").read_text()
    finally:
        config.unlink()
    plain = (i18n.write_conf(tmp_path / "plain") / "conf.py").read_text()
    for text, expected in ((with_buttons, True), (plain, False)):
        assert (f"'repository_url': '{REPO}'" in text) == expected
        assert ("'binderhub_url': 'https://mybinder.org'" in text) == expected
        assert ("'use_repository_button': True" in text) == expected
