"""A link on every page to the same page in the book's other edition, and to the edition's
PDF when it has been built.

The English edition is built at _build/html/ and the Chinese one at _build/html/zh_CN/ (see
tools/i18n.py), with the same page names, so the link is a relative path: from an English
page down into zh_CN/, from a Chinese page back up out of it. It is put at the top of the
page's body, and in the page's head as ``<link rel="alternate" hreflang=...>``.

The PDF (``make pdf``, tools/pdf.py) is _build/pdf/book.pdf, or book-zh_CN.pdf for the
Chinese edition. When that file exists as the HTML is built, it is copied beside the
edition's index.html and every page links to it; otherwise there is no PDF link.
"""

from __future__ import annotations

import shutil
from html import escape
from pathlib import Path

CHINESE = "zh_CN"


def pdf_name(language: str | None) -> str:
    return f"book-{language}.pdf" if language and language != "en" else "book.pdf"


def _pdf(app) -> Path | None:
    if app.builder.format != "html":
        return None
    path = Path(app.srcdir) / app.config.pdf_folder / pdf_name(app.config.language)
    return path if path.is_file() else None


def _add_links(app, pagename, templatename, context, doctree):
    if "body" not in context:
        return  # search, genindex: pages without a counterpart body
    up = "../" * pagename.count("/")
    if app.config.language == CHINESE:
        href, hreflang, label = f"{up}../{pagename}.html", "en", "English"
    else:
        href, hreflang, label = f"{up}{CHINESE}/{pagename}.html", "zh-CN", "中文"
    links = f'<a href="{escape(href)}" hreflang="{hreflang}" lang="{hreflang}">{label}</a>'
    if app.env.book_pdf is not None:
        links += f' · <a class="pdf-link" href="{up}{app.env.book_pdf.name}">PDF</a>'
    context["body"] = f'<p class="language-link">{links}</p>\n' + context["body"]
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{hreflang}" href="{escape(href)}" />'
    )


def _find_pdf(app):
    app.env.book_pdf = _pdf(app)


def _copy_pdf(app, exception):
    if exception is None and getattr(app.env, "book_pdf", None) is not None:
        shutil.copyfile(app.env.book_pdf, Path(app.outdir) / app.env.book_pdf.name)


def setup(app):
    app.add_config_value("pdf_folder", "_build/pdf", "html")
    app.connect("builder-inited", _find_pdf)
    app.connect("html-page-context", _add_links)
    app.connect("build-finished", _copy_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
