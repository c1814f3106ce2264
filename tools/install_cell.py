"""Each page's first code cell: install what the page needs when a reader's Jupyter lacks it.

    python -m tools.install_cell write chapters/*.md
    python -m tools.install_cell pin _build/html --repository URL --commit SHA

A reader who opens a page in Colab, Binder or their own Jupyter runs its first code cell: it
installs nnlib and the other packages the page imports, those that are missing, and does
nothing where all are there (this project's venv). The committed pages cannot know the
repository a reader will install nnlib from, so their cell says ``NNLIB = None`` and stops
with a message naming what to install; ``make book BOOK_REPOSITORY=...`` runs ``pin``, which
writes ``nnlib @ git+<repository>@<commit>`` (the commit built, whose pages were executed)
into the copies the built book lets a reader download. The cell carries the ``remove-cell``
tag: the HTML and PDF do not show it.

``write`` edits the ``.ipynb`` without executing it: the new cell has no output, the other
cells keep theirs, and ids and execution counts are renumbered as ``make notebook`` would
number them, so a later re-execution leaves the file byte-identical.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

MARKER = "# Run this cell first."
TAG = "remove-cell"
# module a page imports -> what pip installs for it (nnlib comes from NNLIB)
PACKAGES = {"sklearn": "scikit-learn", "torchvision": "torchvision"}
# nnlib modules that import an optional package at the top
NNLIB_NEEDS = {"nnlib.data": "torchvision"}
NNLIB_COMMENT = "NNLIB = {value}  # where pip gets nnlib; the built book fills it in"


def needed_modules(code: str) -> list[str]:
    """The optional packages (by module name) that ``code`` imports, nnlib's own included."""
    found = set()
    for module in PACKAGES:
        if re.search(rf"^\s*(?:from|import)\s+{module}\b", code, re.M):
            found.add(module)
    for nnlib_module, module in NNLIB_NEEDS.items():
        if re.search(rf"^\s*from\s+{re.escape(nnlib_module)}\s+import\b", code, re.M):
            found.add(module)
    return sorted(found)


def cell_source(modules: list[str], nnlib: str | None = None) -> str:
    """The install cell for a page that imports nnlib and ``modules``."""
    parts = ["nnlib (the book's library)"] + [PACKAGES[m] for m in modules]
    what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    needs = ['    "nnlib": NNLIB,'] + [f'    "{m}": "{PACKAGES[m]}",' for m in modules]
    header = textwrap.wrap(
        f"{MARKER[2:]} In Colab, Binder or your own Jupyter, it installs the packages this "
        f"page needs that are missing: {what}. Where all of them are installed, it does "
        "nothing.",
        width=77,
        initial_indent="# ",
        subsequent_indent="# ",
    )
    lines = [
        *header,
        "import importlib",
        "import importlib.util",
        "import site",
        "import subprocess",
        "import sys",
        "",
        NNLIB_COMMENT.replace("{value}", "None" if nnlib is None else f'"{nnlib}"'),
        "NEEDS = {",
        *needs,
        "}",
        "missing = [",
        "    pip_name",
        "    for module, pip_name in NEEDS.items()",
        "    if importlib.util.find_spec(module) is None",
        "]",
        "if None in missing:",
        "    raise ModuleNotFoundError(",
        '        "nnlib, the book\'s library, is not installed: install it from the "',
        '        "repository this page comes from, e.g. %pip install "',
        "        \"'nnlib @ git+https://github.com/OWNER/REPO', then run this cell \"",
        '        "again."',
        "    )",
        "if missing:",
        "    subprocess.check_call(",
        '        [sys.executable, "-m", "pip", "install", *missing]',
        "    )",
        "    site.addsitedir(site.getusersitepackages())  # where pip --user puts it",
        "    importlib.invalidate_caches()",
        "    if any(importlib.util.find_spec(module) is None for module in NEEDS):",
        "        raise ModuleNotFoundError(",
        '            "installed, but this kernel does not see it yet: restart the "',
        '            "kernel and run the page again from the top"',
        "        )",
    ]
    return "\n".join(lines)


def is_install_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(MARKER)


def expected_cell(nb) -> str:
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code" and not is_install_cell(c))
    return cell_source(needed_modules(code))


def problems(path: Path) -> list[str]:
    """What is wrong with the install cell of the notebook ``path`` (.md or .ipynb)."""
    path = Path(path)
    fix = f"python -m tools.install_cell write {path.with_suffix('.md')}"
    import jupytext  # not at the top: `pin` runs in the book-only venv, which lacks it

    nb = jupytext.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or not is_install_cell(code[0]):
        return [f"{path}: the first code cell is not the install cell; run {fix}"]
    found = []
    if code[0].source != expected_cell(nb):
        found.append(f"{path}: the install cell is not what this page's imports need; run {fix}")
    if TAG not in code[0].get("metadata", {}).get("tags", ()):
        found.append(f"{path}: the install cell lacks the {TAG!r} tag")
    if sum(is_install_cell(c) for c in code) > 1:
        found.append(f"{path}: more than one install cell")
    return found


MD_CELL = "```{code-cell} ipython3\n:tags: [" + TAG + "]\n\n{source}\n```\n\n"


def write_md(md_path: Path) -> bool:
    """Put the install cell before the first code cell of ``md_path``; True when it changed."""
    text = md_path.read_text(encoding="utf8")
    import jupytext

    source = expected_cell(jupytext.reads(text, fmt="md:myst"))
    block = MD_CELL.replace("{source}", source)
    first = text.index("```{code-cell}")
    existing = re.compile(r"```\{code-cell\} ipython3\n:tags: \[" + TAG + r"\]\n\n"
                          + re.escape(MARKER) + r".*?\n```\n\n", re.S)  # fmt: skip
    match = existing.match(text, first)
    new = text[:first] + block + text[match.end() if match else first :]
    if new != text:
        md_path.write_text(new, encoding="utf8")
    return new != text


def write_ipynb(ipynb_path: Path, source: str) -> bool:
    """Put the install cell (no output) before the first code cell of the executed
    ``ipynb_path``, renumbering ids and execution counts; True when it changed."""
    import jupytext
    import nbformat

    nb = jupytext.read(ipynb_path)
    before = nbformat.writes(nb)
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    if is_install_cell(nb.cells[index]):
        nb.cells[index].source = source
    else:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [TAG]})
        cell.execution_count = 0
        nb.cells.insert(index, cell)
        for c in nb.cells:
            if c.cell_type == "code" and c.execution_count is not None:
                c.execution_count += 1
                for out in c.outputs:
                    if "execution_count" in out:
                        out["execution_count"] = c.execution_count
    for i, c in enumerate(nb.cells):
        c.id = f"cell-{i}"
    if nbformat.writes(nb) == before:
        return False
    jupytext.write(nb, ipynb_path, fmt="ipynb")
    return True


def pin(folder: Path, repository: str, commit: str) -> list[Path]:
    """Write ``NNLIB = "nnlib @ git+<repository>@<commit>"`` into every page notebook under
    ``folder`` (a built book, whose downloads are copies of the pages); return the files
    changed."""
    repository = repository.rstrip("/").removesuffix(".git")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository):
        raise ValueError(f"repository must be https://github.com/OWNER/REPO; got {repository!r}")
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ValueError(f"commit must be a full git commit hash (40 hex digits); got {commit!r}")
    source = f"git+{repository}@{commit}"
    unpinned = NNLIB_COMMENT.replace("{value}", "None")
    pinned = NNLIB_COMMENT.replace("{value}", f'"nnlib @ {source}"')
    changed = []
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix not in (".ipynb", ".md") or not path.is_file():
            continue
        text = path.read_text(encoding="utf8")
        # in an .ipynb the line is inside a JSON string, where its quotes are escaped
        new = text.replace(unpinned, pinned.replace('"', '\\"') if path.suffix == ".ipynb"
                           else pinned, 1)  # fmt: skip
        if new != text:
            path.write_text(new, encoding="utf8")
            changed.append(path)
    return changed


def _read(path: Path):
    import jupytext

    return jupytext.read(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write", help="put the install cell into each page's pair")
    write.add_argument("pages", nargs="+", type=Path)
    pin_cmd = sub.add_parser("pin", help="name nnlib's source in a built book's notebooks")
    pin_cmd.add_argument("folder", type=Path)
    pin_cmd.add_argument("--repository", required=True, help="https://github.com/OWNER/REPO")
    pin_cmd.add_argument("--commit", required=True, help="the commit the pages were run at")
    args = parser.parse_args(argv)
    if args.command == "write":
        for md in args.pages:
            md = md.with_suffix(".md")
            changed = write_md(md)
            source = expected_cell(_read(md))
            changed |= write_ipynb(md.with_suffix(".ipynb"), source)
            print(f"{md}: {'written' if changed else 'unchanged'}")
        return 0
    try:
        changed = pin(args.folder, args.repository, args.commit)
    except ValueError as error:
        parser.error(str(error))
    print(f"{len(changed)} notebooks install nnlib from {args.repository}@{args.commit[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
