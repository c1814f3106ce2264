"""A reader's own Jupyter, Colab or Binder: each page's install cell and the glue helper.

The pages run where myst-nb, the test tools and this repository are absent (`make
reader-env` measures that); these fast tests check the pieces it rests on.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from nnlib.glue import glue
from tests.book.support import ROOT
from tools import install_cell, notebooks

MDS = sorted((ROOT / "chapters").glob("*.md"))
REPO = "https://github.com/example-org/nn-book"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FIND_SPEC = importlib.util.find_spec


def _first_code_cell(path: Path) -> str:
    return next(c.source for c in jupytext.read(path).cells if c.cell_type == "code")


def _run_cell(source: str, monkeypatch, missing=(), stays_missing=False) -> list[list[str]]:
    """Execute an install cell as a kernel would, with the modules in ``missing`` not
    importable (until pip has run, or for good with ``stays_missing``); return the commands
    it ran instead of running them."""
    calls = []
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in missing else FIND_SPEC(name, *a),
    )
    missing = set(missing)

    def pip(cmd, *args, **kwargs):  # records the command; the packages then import
        calls.append(cmd)
        if not stays_missing:
            missing.clear()

    monkeypatch.setattr(subprocess, "check_call", pip)
    exec(compile(source, "<install cell>", "exec"), {})
    return calls


@pytest.mark.parametrize("md", MDS, ids=[p.stem for p in MDS])
def test_every_page_starts_with_the_install_cell_its_imports_need(md):
    assert install_cell.problems(md) == []
    assert install_cell.problems(md.with_suffix(".ipynb")) == []


@pytest.mark.parametrize("md", MDS, ids=[p.stem for p in MDS])
def test_the_install_cell_does_nothing_where_everything_is_installed(md, monkeypatch):
    assert _run_cell(_first_code_cell(md), monkeypatch) == []


def test_the_install_cell_installs_only_what_is_missing(monkeypatch):
    source = install_cell.cell_source(["sklearn", "torchvision"], nnlib=f"nnlib @ git+{REPO}")
    calls = _run_cell(source, monkeypatch, missing={"nnlib", "torchvision"})
    assert calls == [[sys.executable, "-m", "pip", "install", f"nnlib @ git+{REPO}", "torchvision"]]
    calls = _run_cell(source, monkeypatch, missing={"sklearn"})
    assert calls == [[sys.executable, "-m", "pip", "install", "scikit-learn"]]


def test_the_install_cell_says_to_restart_when_the_kernel_cannot_see_the_install(monkeypatch):
    source = install_cell.cell_source(["sklearn"])
    with pytest.raises(ModuleNotFoundError, match=r"restart the kernel"):
        _run_cell(source, monkeypatch, missing={"sklearn"}, stays_missing=True)


def test_without_a_source_the_install_cell_stops_and_says_what_to_install(monkeypatch):
    source = _first_code_cell(MDS[0])
    with pytest.raises(ModuleNotFoundError, match=r"nnlib.*not installed.*pip install"):
        _run_cell(source, monkeypatch, missing={"nnlib", "sklearn"})


def test_the_install_cell_fits_the_code_width_and_is_hidden_from_the_book():
    for modules in ([], ["sklearn"], ["sklearn", "torchvision"]):
        assert max(map(len, install_cell.cell_source(modules).splitlines())) <= 77
    for md in MDS:
        cell = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
        assert install_cell.TAG in cell.metadata["tags"]


@pytest.mark.slow
def test_the_built_book_shows_no_install_cell_and_its_downloads_hold_it(book):
    for edition in (book.html, book.chinese):
        for page in (edition / "chapters" / f"{md.stem}.html" for md in MDS):
            html = page.read_text()
            assert "find_spec" not in html and "Run this cell first" not in html, page
            assert "seed_everything" in html  # the cell after it is shown
        source = edition / "_sources" / "chapters" / "04_measuring_error.ipynb"
        assert install_cell.MARKER in source.read_text()


def test_needed_modules_follow_the_imports():
    code = "import torch\nfrom sklearn.datasets import load_digits\nfrom nnlib.data import x\n"
    assert install_cell.needed_modules(code) == ["sklearn", "torchvision"]
    assert install_cell.needed_modules("import torch\nimport nnlib\n") == []


def _copy_pair(tmp_path: Path, stem: str = "04_measuring_error") -> Path:
    for suffix in (".md", ".ipynb"):
        shutil.copy(ROOT / "chapters" / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    return tmp_path / f"{stem}.md"


def test_a_page_without_the_install_cell_fails_the_notebook_check(tmp_path):
    md = _copy_pair(tmp_path)
    assert notebooks.check([md.with_suffix(".ipynb")]) == []
    text = md.read_text()
    start = text.index("```{code-cell} ipython3\n:tags: [remove-cell]")
    md.write_text(text[:start] + text[text.index("```{code-cell}", start + 10) :])
    assert any("not the install cell" in p for p in install_cell.problems(md))
    assert any("not the install cell" in p for p in notebooks.check([md.with_suffix(".ipynb")]))


def test_a_page_that_gains_an_import_fails_until_its_cell_is_rewritten(tmp_path):
    md = _copy_pair(tmp_path)
    text = md.read_text()
    md.write_text(text.replace("import statistics\n", "import statistics\nimport sklearn\n", 1))
    assert any("not what this page's imports need" in p for p in install_cell.problems(md))
    assert install_cell.write_md(md)
    assert install_cell.problems(md) == []
    assert '"sklearn": "scikit-learn"' in _first_code_cell(md)


def test_writing_the_cell_into_an_executed_notebook_keeps_its_outputs(tmp_path):
    """Removing the cell from a copy and writing it back gives the committed file again."""
    md = _copy_pair(tmp_path)
    ipynb = md.with_suffix(".ipynb")
    committed = ipynb.read_bytes()
    nb = jupytext.read(ipynb)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    del nb.cells[first]
    for c in nb.cells:
        if c.cell_type == "code":
            c.execution_count -= 1
            for out in c.outputs:
                if "execution_count" in out:
                    out["execution_count"] -= 1
    jupytext.write(nb, ipynb, fmt="ipynb")
    assert install_cell.write_ipynb(ipynb, _first_code_cell(md))
    assert ipynb.read_bytes() == committed
    assert not install_cell.write_ipynb(ipynb, _first_code_cell(md))


def test_pin_names_the_repository_and_commit_in_a_built_books_notebooks(tmp_path, monkeypatch):
    downloads = tmp_path / "_downloads" / "abc"
    downloads.mkdir(parents=True)
    md = _copy_pair(downloads, "01_why_nonlinearity")
    changed = install_cell.pin(tmp_path, REPO + ".git", COMMIT)
    assert sorted(changed) == sorted([md, md.with_suffix(".ipynb")])
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)  # still valid JSON
    nbformat.validate(nb)
    for source in (_first_code_cell(md), _first_code_cell(md.with_suffix(".ipynb"))):
        calls = _run_cell(source, monkeypatch, missing={"nnlib"})
        assert calls == [[sys.executable, "-m", "pip", "install", f"nnlib @ git+{REPO}@{COMMIT}"]]
    assert install_cell.pin(tmp_path, REPO, COMMIT) == []  # already pinned
    for bad in (("ftp://x/y", COMMIT), (REPO, "main"), (REPO, "0123abc")):
        with pytest.raises(ValueError, match="must be"):
            install_cell.pin(tmp_path, *bad)


def test_pin_runs_in_the_book_only_venv(tmp_path):
    """make book runs pin with requirements-book.txt alone: no jupytext, no nbformat."""
    md = _copy_pair(tmp_path, "01_why_nonlinearity")
    code = (
        "import sys\n"
        "sys.modules['jupytext'] = sys.modules['nbformat'] = None\n"
        "from tools import install_cell\n"
        f"sys.exit(install_cell.main(['pin', {str(tmp_path)!r}, '--repository', {REPO!r}, "
        f"'--commit', {COMMIT!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"git+{REPO}@{COMMIT}" in md.read_text()


def test_glue_goes_to_myst_nb_when_it_is_installed(monkeypatch):
    import myst_nb

    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda *a, **k: calls.append((a, k)))
    assert glue("key", 0.5, display=False) is None
    assert calls == [(("key", 0.5), {"display": False})]


def test_glue_does_nothing_without_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now raises ImportError
    assert glue("key", 0.5, display=False) is None
    with pytest.raises(TypeError, match="name must be a non-empty string; got 3"):
        glue(3, 0.5)


def test_nnlib_imports_without_the_books_and_the_tests_packages():
    """`import nnlib` and its op modules need PyTorch and NumPy only: they load with myst-nb,
    scikit-learn, SciPy, the test tools, Matplotlib and torchvision made unimportable.
    nnlib.plot (Matplotlib) and nnlib.data (torchvision) load on first use."""
    blocked = ["myst_nb", "sklearn", "scipy", "pytest", "hypothesis", "jupytext", "IPython",
               "matplotlib", "torchvision"]  # fmt: skip
    modules = sorted(
        f"nnlib.{p.stem}"
        for p in (ROOT / "nnlib").glob("*.py")
        if p.stem not in ("__init__", "plot", "data")
    )
    code = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None\n"
        "import importlib\n"
        "import nnlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "nnlib.glue.glue('x', 1, display=False)\n"
        f"for name in {blocked!r}:\n"
        "    del sys.modules[name]\n"
        "assert nnlib.plot.subplots and nnlib.data.load_cifar10\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_the_binder_environment_pins_what_requirements_txt_pins():
    """Binder builds from .binder/: its versions are the ones the pages were executed with."""

    def pins(path):
        out = {}
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[name.strip().lower()] = version.strip()
        return out

    binder, ours = pins(ROOT / ".binder" / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert binder and all(ours.get(name) == version for name, version in binder.items())
    assert {"torch", "numpy", "matplotlib", "scikit-learn", "torchvision"} <= set(binder)
    assert "pytest" not in binder and "jupyter-book" not in binder
    post_build = (ROOT / ".binder" / "postBuild").read_text()
    assert "pip install --no-deps ." in post_build


def test_pages_write_nothing_outside_a_temporary_folder():
    """A page that writes files does so under tempfile's folder, never a repository path."""
    for md in MDS:
        code = "\n".join(c.source for c in jupytext.read(md).cells if c.cell_type == "code")
        for call in ("savefig(", "to_csv(", "np.save(", "torch.save(", "open("):
            assert call not in code, f"{md.name} calls {call}"


def test_the_readme_s_nnlib_example_runs():
    """The README's five-line example is what a new user types first."""
    readme = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert "import nnlib" in example or "from nnlib" in example
    exec(compile(example, "README.md", "exec"), {})
