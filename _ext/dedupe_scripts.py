"""Remove duplicate <script> entries from every page.

sphinx-thebe's configuration script (and sphinx-togglebutton's) is registered twice under
Jupyter Book 1.x, once with ``filename=None`` and once with ``filename=''``, so each page
declared ``const THEBE_JS_URL`` twice and the browser reported "Identifier 'THEBE_JS_URL'
has already been declared" (caught by tests/book/test_browser.py).
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", None) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
