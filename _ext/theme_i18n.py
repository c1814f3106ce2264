"""The theme's own words in the book's language, where the theme's catalogs fall short.

In the Chinese edition the themes left some of their words in English or in Taiwanese
wording: the copyright line, the colour-mode button's tooltips, the sidebar buttons'
tooltips, the navigation's labels and the search box (pydata-sphinx-theme's zh catalog
translates some of its messages as the English; sphinx-book-theme writes four in its
templates without marking them for translation, and its zh_CN catalog has 列印成 PDF for
"Print to PDF").

- Messages of Sphinx's own domain ("sphinx", which the pydata theme's templates use):
  ``locales/theme/<language>/LC_MESSAGES/sphinx.po``. tools/i18n.py lists that folder in
  ``locale_dirs``, which Sphinx reads before its own catalogs and the theme's.
- The four unmarked words: the book's copies of those templates in ``_templates/`` mark them
  with ``_()``, and nothing else differs (tests/book/test_translations.py compares them with the
  theme's); in English they read exactly as before.
- sphinx-book-theme's domain ("booktheme"): ``booktheme.po`` in the same folder, found
  through ``locale_dirs`` as Sphinx finds its own. The theme registers its catalog as it is
  set up; this extension puts the book's catalog in front of it once the builder exists,
  with the theme's as the fallback for every other message.
- The search box's text is a theme option: tools/i18n.py sets it for the Chinese edition.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from sphinx import locale

DOMAIN = "booktheme"


def book_catalog_first(app) -> None:
    language = app.config.language
    if not language or language == "en":
        return
    for folder in app.config.locale_dirs:  # relative to the source folder, or absolute
        try:
            ours = gettext.translation(DOMAIN, localedir=str(Path(app.srcdir, folder)),
                                       languages=[language])  # fmt: skip
            break
        except OSError:
            continue
    else:  # no catalog for this language: the theme's alone
        return
    theirs = locale.translators.get(("general", DOMAIN))
    if theirs is not None:
        ours.add_fallback(theirs)
    locale.translators["general", DOMAIN] = ours


def setup(app):
    app.connect("builder-inited", book_catalog_first)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
