"""The Chinese edition: message catalogs and the zh_CN build, from the one _config.yml.

Jupyter Book 1.x's command line cannot pass ``-D language=...`` to Sphinx, so this tool
asks Jupyter Book for the Sphinx configuration it would use (``jupyter-book config
sphinx``), makes its paths absolute, and runs Sphinx with it (``conf`` writes that
configuration to _build/i18n/ for a look):

    python -m tools.i18n update   # extract the English messages, refresh locales/zh_CN/*.po
    python -m tools.i18n build    # the Chinese edition at _build/html/zh_CN/ (-W -n)
    python -m tools.i18n build --config _config.repository.yml   # from another _config.yml

The English edition is still built by ``jupyter-book build`` (``make book``); both read the
same executed notebooks, so the code and its outputs are the same in both editions.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONF_DIR = ROOT / "_build" / "i18n"
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"


# The authors' line of the Chinese pages' footer and of its PDF's title page (_config.yml's
# author is "The nnlib book authors"; no page of the book holds it, so no catalog does)
AUTHOR = "nnlib 图书编写组"
# The Chinese build's settings: the language, the author, sphinx-togglebutton's hint, which
# that extension translates before the language is known (its own zh-cn catalog has these
# words), and the search box's text, a theme option (_ext/theme_i18n.py: the theme's words)
CHINESE = ["-D", f"language={LANGUAGE}", "-D", f"author={AUTHOR}",
           "-D", "togglebutton_hint=点击显示", "-D", "togglebutton_hint_hide=点击隐藏",
           "-D", "html_theme_options.search_bar_text=搜索本书……"]  # fmt: skip


@functools.cache
def _conf_text(config: Path | None = None) -> str:
    """Jupyter Book's Sphinx configuration (from ``config``, a _config.yml in the book's
    root; _config.yml itself by default), with its paths made absolute. `jupyter-book
    config sphinx` can only write conf.py into the book's root, so the file is made there,
    read and removed under a lock: two test workers may build an edition at the same time."""
    option = ["--config", str(Path(config).resolve())] if config else []
    (ROOT / "_build").mkdir(exist_ok=True)
    generated = ROOT / "conf.py"
    with open(ROOT / "_build" / ".i18n-conf.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([str(BIN / "jupyter-book"), "config", "sphinx", *option, str(ROOT)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        text = generated.read_text()
        generated.unlink()
    text += f"""
# Added by tools/i18n.py: this file does not live in the book's root.
import sys
sys.path.insert(0, {str(ROOT / "_ext")!r})
html_static_path = [{str(ROOT / "_static")!r}]
locale_dirs = [{str(LOCALES)!r}, {str(LOCALES / "theme")!r}]
templates_path = [{str(ROOT / "_templates")!r}]
bibtex_bibfiles = [{str(ROOT / "references.bib")!r}]
"""
    return text


def write_conf(folder: Path = CONF_DIR, config: Path | None = None) -> Path:
    """The configuration (of ``config``, default _config.yml) as ``folder``/conf.py;
    returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conf.py").write_text(_conf_text(config))
    return folder


def compile_catalogs() -> None:
    """The .mo file of every .po that is newer, written beside it as Sphinx would (babel),
    but under a lock and each in one step. Sphinx itself rewrites an outdated .mo in place
    as a build starts; two builds starting together (pytest workers: the Chinese HTML and
    the Chinese PDF) could then read a half-written catalog, and Sphinx leaves a catalog it
    cannot read untranslated without a word. Compiled here first, no build rewrites one."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    (ROOT / "_build").mkdir(exist_ok=True)
    with open(ROOT / "_build" / ".i18n-catalogs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for po in sorted(LOCALES.rglob("*.po")):
            mo = po.with_suffix(".mo")
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            with open(po, "rb") as f:
                catalog = read_po(f, locale=LANGUAGE)
            partial = mo.with_suffix(".mo.partial")
            with open(partial, "wb") as f:
                write_mo(f, catalog)
            os.replace(partial, mo)


def sphinx(builder: str, out: Path, *extra: str, conf_extra: str = "",
           config: Path | None = None) -> None:  # fmt: skip
    """sphinx-build with the book's configuration, always from a fresh environment (-E):
    myst-nb resolves a glue role that names a page, as every translated one does, from glue
    data that a reused environment does not hold for the pages it does not read again. The
    configuration and the doctrees go to a folder of this call's own, so that builds running
    side by side (pytest workers) cannot share them. ``conf_extra`` is Python appended to
    the configuration (settings that ``-D`` cannot express, such as tuples); ``config`` is
    the _config.yml to build from (default: the book's own)."""
    if f"language={LANGUAGE}" in extra:
        compile_catalogs()
    if builder == "gettext":  # the pages' messages only: Sphinx would also extract the words
        # of the templates in templates_path, which locales/theme translates (_ext/theme_i18n.py)
        conf_extra = "templates_path = []\n" + conf_extra
    with tempfile.TemporaryDirectory(prefix="i18n-") as work:
        conf = write_conf(Path(work) / "conf", config)
        if conf_extra:
            with open(conf / "conf.py", "a") as f:
                f.write("\n" + conf_extra)
        subprocess.run([str(BIN / "sphinx-build"), "-b", builder, "-c", str(conf), "-q", "-E",
                        "-d", str(Path(work) / "doctrees"), *extra, str(ROOT), str(out)],
                       check=True)  # fmt: skip


# A message that is a number and nothing else: a cell of a table that a chapter prints
NUMBER = re.compile(r"[-+\u2212]?(\d[\d,]*(\.\d+)?|\.\d+)([eE][-+]?\d+)?%?")


def fill_numbers(po: Path) -> int:
    """Translate every message of ``po`` that is only a number as that number (a changed
    output changes such a message, and its old translation would otherwise turn fuzzy);
    returns how many were filled. Written as sphinx-intl writes (babel, no line wrapping)."""
    from babel.messages.pofile import read_po, write_po

    with open(po, "rb") as f:
        catalog = read_po(f, locale=LANGUAGE)
    filled = 0
    for message in catalog:
        if isinstance(message.id, str) and NUMBER.fullmatch(message.id):
            if message.string != message.id or message.fuzzy:
                message.string = message.id
                message.flags.discard("fuzzy")
                message.previous_id = []
                filled += 1
    if filled:
        with open(po, "wb") as f:
            write_po(f, catalog, width=0, ignore_obsolete=True)
    return filled


def update() -> None:
    """Extract the messages and merge them into locales/zh_CN (new ones untranslated,
    changed ones fuzzy, removed ones dropped); messages that are only a number are
    translated as themselves (`fill_numbers`)."""
    pot = ROOT / "_build" / "gettext"
    shutil.rmtree(pot, ignore_errors=True)
    sphinx("gettext", pot)
    subprocess.run([str(BIN / "sphinx-intl"), "update", "-p", str(pot), "-l", LANGUAGE,
                    "-d", str(LOCALES), "-w", "0", "--no-obsolete"], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    for po in sorted(LOCALES.rglob("*.po")):
        fill_numbers(po)


def build(warnings_as_errors: bool = True, config: Path | None = None) -> Path:
    """The Chinese edition's HTML, from ``config`` (default: _config.yml; `make book
    BOOK_REPOSITORY=...` passes the copy with the repository link and launch buttons)."""
    out = ROOT / "_build" / "html" / LANGUAGE
    flags = ["-W", "-n", "--keep-going"] if warnings_as_errors else []
    sphinx("html", out, *CHINESE, *flags, config=config)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["update", "build", "conf"])
    parser.add_argument("--config", type=Path, help="the _config.yml to build from")
    args = parser.parse_args()
    if args.config is not None and not args.config.is_file():
        parser.error(f"--config: expected a _config.yml file; got {str(args.config)!r}")
    if args.command == "update":
        update()
    elif args.command == "build":
        print(f"Chinese edition: {build(config=args.config) / 'index.html'}")
    else:
        print(write_conf(config=args.config) / "conf.py")


if __name__ == "__main__":
    main()
