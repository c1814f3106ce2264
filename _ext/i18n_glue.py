"""Translated pages for the Chinese edition: glued numbers inside translated prose, the
parts' captions and the book's title.

Sphinx translates a paragraph by parsing its translated message (``msgstr``) again, on its
own. A same-page glue role such as ``{glue:text}`acc:.1f``` then finds no glue data ("No key
'acc' found in glue data for this document") and renders empty, while the cross-document
form ``{glue:text}`page.ipynb::acc:.1f``` resolves. This extension rewrites every same-page
glue role of a translated message into that form, naming the message's own page, as the
message is looked up: the ``.po`` files keep the roles exactly as the English messages
have them (which tests/book/test_translations.py checks), and the numbers the Chinese page shows
are the English page's, glued from the same executed notebook.

Sphinx's ``Locale`` transform loads the page's catalog with ``init_locale`` and reads its
messages; with ``gettext_compact = False`` the catalog's text domain is the page's docname,
so the wrapper below knows which page the messages belong to.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import sphinx.transforms.i18n as sphinx_i18n
from docutils import nodes
from sphinx import addnodes

# {glue}`key`, {glue:text}`key:fmt`, {glue:md}`key` ... without a page (no "::")
SAME_PAGE_GLUE = re.compile(r"(\{glue(?::[a-z]+)?\}`)(?![^`]*::)([^`]+`)")


def _rewrite(message: str, page: str) -> str:
    def one(match: re.Match) -> str:
        role, content = match.group(1), match.group(2)[:-1]
        if role == "{glue:text}`" and ":" not in content:
            # myst-nb splits the format off at the last ":" before it looks for "::", so a
            # page::key without a format would lose its key: give it the default format
            content += ":s"
        return f"{role}{page}::{content}`"

    return SAME_PAGE_GLUE.sub(one, message)


_original_init_locale = sphinx_i18n.init_locale


def _init_locale(locale_dirs, language, catalog="sphinx", namespace="general"):
    """Sphinx's catalog loader; the page's translations get their glue roles rewritten."""
    translator, has_catalog = _original_init_locale(locale_dirs, language, catalog, namespace)
    if catalog == "sphinx" or not has_catalog:
        return translator, has_catalog
    page = PurePosixPath(catalog).name + ".ipynb"  # the docname's notebook, beside the page
    chain = translator
    while chain is not None:  # Sphinx merges the _catalog dicts of the chain itself
        messages = getattr(chain, "_catalog", None) or {}
        for message, translated in messages.items():
            if isinstance(translated, str) and translated != message:
                messages[message] = _rewrite(translated, page)  # idempotent: "::" is skipped
        chain = getattr(chain, "_fallback", None)
    return translator, has_catalog


def _catalog_of(app, docname: str):
    dirs = [str(Path(app.srcdir) / d) for d in app.config.locale_dirs]
    translator, has_catalog = _original_init_locale(dirs, app.config.language, docname)
    return translator if has_catalog else None


def _translating(config) -> bool:
    return bool(config.language) and config.language != "en"


def _translate_title(app, env, docnames):
    """The book's title (html_title, from _config.yml, and the PDF's title in
    latex_documents) as the root page's catalog has it (here, once Sphinx has compiled the
    catalogs, and before the pages are written); the PDF's author is the build's ``author``
    (tools/i18n.py sets the Chinese one)."""
    config = app.config
    if not _translating(config):
        return
    catalog = _catalog_of(app, config.root_doc)
    if catalog is not None:
        config.html_title = catalog.gettext(config.html_title)
        config.latex_documents = [
            (start, target, catalog.gettext(title), config.author, *rest)
            for start, target, title, _author, *rest in config.latex_documents
        ]


def _translate_captions(app, doctree):
    """The parts' captions in the table of contents: sphinx-external-toc adds the toctrees
    after Sphinx has translated the page, so they are translated here, from the catalog of
    the page that holds them (the root page, where the gettext builder finds them too)."""
    if not _translating(app.config):
        return
    catalog = _catalog_of(app, app.env.docname)
    if catalog is None:
        return
    for toctree in doctree.findall(addnodes.toctree):
        if toctree.get("caption"):
            toctree["caption"] = catalog.gettext(toctree["caption"])
    # sphinx-jupyterbook-latex copied each caption to the toctree's wrapper as the page
    # was read, to make the PDF's part titles from it
    for wrapper in doctree.findall(nodes.compound):
        if wrapper.get("caption"):
            wrapper["caption"] = catalog.gettext(wrapper["caption"])


def _adopt_translated_nodes(app, doctree):
    """Make the page's document own every node of its translated messages.

    Sphinx parses each ``msgstr`` as a small document of its own and moves its nodes into
    the page; those nodes keep pointing to that small document (docutils' ``_document``),
    whose settings hold the whole build environment. The page's doctree is pickled after
    this event, so every translated page stored a copy of the environment as it was when
    the page was read: 0.15 MB for the first chapter, 2.9 MB for the fifteenth, and
    loading them was most of the time of the Chinese builds. Owned by the page, the nodes
    pickle as the English ones do."""
    if not _translating(app.config):
        return
    for node in doctree.findall():
        if node.document is not doctree:
            node.document = doctree


def setup(app):
    sphinx_i18n.init_locale = _init_locale
    app.connect("env-before-read-docs", _translate_title)
    app.connect("doctree-read", _translate_captions)
    app.connect("doctree-read", _adopt_translated_nodes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
