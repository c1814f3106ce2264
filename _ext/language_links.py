"""A link on every page to the same page in the book's other edition.

The English edition is built at _build/html/ and the Chinese one at _build/html/zh_CN/ (see
tools/i18n.py), with the same page names, so the link is a relative path: from an English
page down into zh_CN/, from a Chinese page back up out of it. It is put at the top of the
page's body, and in the page's head as ``<link rel="alternate" hreflang=...>``.
"""

from __future__ import annotations

from html import escape

CHINESE = "zh_CN"


def _add_link(app, pagename, templatename, context, doctree):
    if "body" not in context:
        return  # search, genindex: pages without a counterpart body
    up = "../" * pagename.count("/")
    if app.config.language == CHINESE:
        href, hreflang, label = f"{up}../{pagename}.html", "en", "English"
    else:
        href, hreflang, label = f"{up}{CHINESE}/{pagename}.html", "zh-CN", "中文"
    link = (f'<p class="language-link"><a href="{escape(href)}" hreflang="{hreflang}" '
            f'lang="{hreflang}">{label}</a></p>\n')  # fmt: skip
    context["body"] = link + context["body"]
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{hreflang}" href="{escape(href)}" />'
    )


def setup(app):
    app.connect("html-page-context", _add_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
