"""The built book in a real browser: Debian's Chromium driven by Playwright, served from 127.0.0.1.

Every page of the table of contents, in the English edition and in the Chinese one
(zh_CN/, built by tools/i18n.py as `make book` builds it), is opened in a fresh browser
context (empty storage, as on a reader's first visit), and each of these is a failure:

- a console message of level ``error`` or ``warning``, or an uncaught exception;
- a request to anything but 127.0.0.1 (blocked, so the book is checked offline even on a
  machine with a network), a response with status 400 or more, a failed request;
- an image that did not load, an internal link to a missing file or a missing anchor;
- a formula not typeset by the MathJax bundled in the site, a MathJax error box
  (``mjx-merror``, e.g. for an undefined macro), or raw TeX (``$…$`` with a TeX command,
  ``$$``, ``\\(``, ``\\[``) left in the rendered text outside code.

``test_detector_fires`` proves each detector: it plants the faults in a copy of a real page
and watches the check report each one (and an unmodified copy must pass). `make screenshots`
(tools/screenshots.py) saves pages for review with the same browser settings.

Needs Debian's ``chromium`` (``make browser-deps`` installs it); without it the tests are
skipped, except under CI, where a missing browser is a failure. Playwright is pinned in
requirements.txt and only drives that browser: it downloads nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from playwright.sync_api import sync_playwright

from tests.book.support import ROOT
from tools import notebooks
from tools.screenshots import CHROMIUM_FLAGS, WAIT_FOR_MATH_AND_FONTS, chromium, serve
from tools.wrap_code import code_cells

# TeX that MathJax should have typeset: a display or inline delimiter, or a pair of dollars
# around something with a TeX command, a superscript or a subscript.
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\$[^$\n]{0,200}?(\\[A-Za-z]+|[\^_])[^$\n]{0,200}?\$")

# What the page shows after its scripts ran: formulas, errors, text outside code, images, links.
INSPECT = """() => {
  const math = [...document.querySelectorAll('.math')];
  const text = document.body.cloneNode(true);
  text.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
      .forEach(e => e.remove());
  return {
    math: math.length,
    untypeset: math.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent),
    containers: document.querySelectorAll('mjx-container').length,
    merror: [...document.querySelectorAll('mjx-merror')].map(
        e => e.getAttribute('data-mjx-error') || e.textContent),
    text: text.innerText,
    images: [...document.images].map(i => ({src: i.currentSrc || i.src,
        loaded: i.complete && i.naturalWidth > 0})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    split_headers: [...document.querySelectorAll('th')].flatMap(th => {
      const split = [], words = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
      for (let node; (node = words.nextNode());) {
        for (const word of node.data.matchAll(/[\u4e00-\u9fff]{2,}/g)) {
          const range = document.createRange();
          range.setStart(node, word.index);
          range.setEnd(node, word.index + word[0].length);
          const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
          if (lines.size > 1) split.push(word[0]);
        }
      }
      return split;
    }),
    wide_code: [...document.querySelectorAll('div.cell_input pre')]
        .filter(e => e.scrollWidth > e.clientWidth)
        .map(e => e.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a))),
  };
}"""


@pytest.fixture(scope="module")
def browser():
    path = chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed; run `make browser-deps` (CI must run these)")
        pytest.skip("Chromium is not installed (make browser-deps installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(book):
    """Both editions, built once per test run (tests/conftest.py)."""
    return book.html


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


def _link_problems(site: Path, url: str, links: list[str]) -> list[str]:
    problems = []
    for href in links:
        if href.startswith(("http://", "https://", "mailto:", "javascript:")):
            continue
        target = urlparse(urljoin(url, href))
        path = site / unquote(target.path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            problems.append(f"broken link: {href}")
        elif target.fragment and path.suffix == ".html":
            ids = set(re.findall(r'id="([^"]+)"', path.read_text(encoding="utf-8")))
            if target.fragment not in ids:
                problems.append(f"link to a missing anchor: {href}")
    return problems


def check_page(browser, base: str, site: Path, page: str) -> list[str]:
    """Every problem a reader opening ``page`` (a path under the site) would meet."""
    url = urljoin(base, page)
    host = urlparse(base).netloc
    problems: list[str] = []

    def route(route):
        request_url = route.request.url
        if urlparse(request_url).netloc == host or request_url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"request outside 127.0.0.1 (blocked): {request_url}")
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        context.route("**/*", route)
        tab = context.new_page()
        tab.on("console", lambda message: message.type in ("error", "warning")
               and problems.append(f"console {message.type}: {message.text}"))  # fmt: skip
        tab.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
        tab.on("response", lambda response: response.status >= 400
               and not response.url.endswith("/favicon.ico")
               and problems.append(f"HTTP {response.status}: {response.url}"))  # fmt: skip
        tab.on("requestfailed", lambda request: urlparse(request.url).netloc == host
               and problems.append(f"request failed: {request.url} ({request.failure})"))  # fmt: skip
        response = tab.goto(url, wait_until="load")
        if response is None or not response.ok:
            return [*problems, f"the page itself did not load: {url}"]
        tab.evaluate(WAIT_FOR_MATH_AND_FONTS)
        seen = tab.evaluate(INSPECT)
    finally:
        context.close()

    static = (site / urlparse(url).path.lstrip("/")).read_text(encoding="utf-8")
    n_math = len(re.findall(r'class="math notranslate nohighlight"', static))
    if seen["containers"] < n_math:
        problems.append(f"{n_math} formulas in the page but {seen['containers']} typeset")
    problems += [f"formula not typeset: {tex[:80]}" for tex in seen["untypeset"]]
    problems += [f"MathJax error box: {error[:80]}" for error in seen["merror"]]
    problems += [f"raw TeX in the text: {m.group(0)[:80]}" for m in RAW_TEX.finditer(seen["text"])]
    for image in seen["images"]:
        if urlparse(image["src"]).netloc != host and not image["src"].startswith("data:"):
            problems.append(f"image from elsewhere: {image['src']}")
        elif not image["loaded"]:
            problems.append(f"image not loaded: {image['src']}")
    problems += _link_problems(site, url, seen["links"])
    # at 1280 pixels the code column holds tools/wrap_code.py's WIDTH characters
    problems += [f"code scrolls sideways: {line[:80]}" for line in seen["wide_code"]]
    # a Chinese word in a table's header stays on one line (_static/chinese.css)
    problems += [f"table header split across lines: {word}" for word in seen["split_headers"]]
    return problems


PAGES = notebooks.toc_files(ROOT / "_toc.yml")


@pytest.mark.slow
@pytest.mark.parametrize("edition", ["", "zh_CN/"], ids=["en", "zh_CN"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_cleanly_offline(page, edition, browser, base, site):
    assert check_page(browser, base, site, f"{edition}{page}.html") == []


def test_a_chinese_font_is_installed():
    """Without a CJK font Chromium draws the Chinese edition as empty boxes (`make
    screenshots` shows them); `make browser-deps` installs Debian's fonts-noto-cjk."""
    if chromium() is None and not os.environ.get("CI"):
        pytest.skip("no browser here, so no pages are drawn")
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    assert fonts.stdout.strip(), "no font with Chinese glyphs: run `make browser-deps`"


# One fault each, planted in a copy of a real page (with formulas, figures and links): what
# to replace in the page's HTML (a regular expression), with what, and what the check must
# report. Most faults are added at the end of the article.
END = "</article>"
PLANTED = {
    "console_error": (END, '<script>console.error("MathJax: typesetting halted")</script>',
                      r"console error: MathJax: typesetting halted"),
    "console_warning": (END, '<script>console.warn("deprecated option")</script>',
                        r"console warning: deprecated option"),
    "uncaught_exception": (END, "<script>notAFunction()</script>",
                           r"uncaught exception: .*notAFunction"),
    "script_from_a_cdn": (END, '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/'
                          'tex-chtml.js"></script>',
                          r"request outside 127\.0\.0\.1 \(blocked\): https://cdn"),
    "missing_script": (END, '<script src="../_static/no-such-script.js"></script>',
                       r"HTTP 404: .*no-such-script\.js"),
    "missing_image": (END, '<img src="../_images/no-such-figure.png" alt="">',
                      r"image not loaded: .*no-such-figure\.png"),
    "raw_tex_in_prose": (END, r"<p>the loss is $x^2 + \alpha$ here</p>",
                         r"raw TeX in the text: \$x\^2 \+ \\alpha\$"),
    "undefined_macro": (END, r'<p><span class="math notranslate nohighlight">'
                        r"\(\notamacro{x}\)</span></p>", r"MathJax error box: .*notamacro"),
    "mathjax_not_loaded": (r'<script[^>]*src="[^"]*mathjax/tex-chtml\.js[^"]*"[^>]*></script>', "",
                           r"formula not typeset: "),
    "broken_link": (END, '<a href="no-such-page.html">a page</a>',
                    r"broken link: no-such-page\.html"),
    "missing_anchor": (END, '<a href="04_measuring_error.html#no-such-section">a section</a>',
                       r"link to a missing anchor: .*#no-such-section"),
    "split_table_header": (END, '<table style="width: 4em"><tr><th>以零为中心</th><th>饱和</th>'
                           "</tr><tr><td>否</td><td>无</td></tr></table>",
                           r"table header split across lines: 以零为中心"),
    "code_too_wide": (END, '<div class="cell_input"><pre>' + "w = 1  # " + "x" * 110 + "</pre></div>",
                      r"code scrolls sideways: w = 1  # xxx"),
}  # fmt: skip
HOST_PAGE = "chapters/04_measuring_error"


def _plant(site: Path, name: str, faults: list[str]) -> str:
    """A copy of HOST_PAGE with ``faults`` planted, saved beside it; its path in the site."""
    page = site / f"{HOST_PAGE}.html"
    html = page.read_text(encoding="utf-8")
    assert END in html and 'class="math notranslate nohighlight"' in html
    for fault in faults:
        pattern, replacement, _ = PLANTED[fault]
        new = replacement + END if pattern == END else replacement
        html, n = re.subn(pattern, lambda _, new=new: new, html, count=1)
        assert n == 1, f"{fault}: nothing to replace in {HOST_PAGE}.html"
    (page.parent / name).write_text(html, encoding="utf-8")
    return f"{Path(HOST_PAGE).parent}/{name}"


# All faults but one go into one page, read once (a page load costs one to three seconds);
# each detector's own message must be among the problems found. MathJax's absence would hide
# the MathJax error box, so that fault gets a page of its own.
ALONE = ["mathjax_not_loaded"]
TOGETHER = [fault for fault in PLANTED if fault not in ALONE]


@pytest.fixture(scope="module")
def planted_problems(browser, base, site):
    found = {"nothing": check_page(browser, base, site, _plant(site, "planted-nothing.html", []))}
    found["together"] = check_page(browser, base, site, _plant(site, "planted-all.html", TOGETHER))
    for fault in ALONE:
        found[fault] = check_page(
            browser, base, site, _plant(site, f"planted-{fault}.html", [fault])
        )
    return found


@pytest.mark.slow
def test_an_unmodified_copy_of_the_host_page_passes(planted_problems):
    assert planted_problems["nothing"] == []


@pytest.mark.slow
@pytest.mark.parametrize("fault", PLANTED)
def test_detector_fires(fault, planted_problems):
    problems = planted_problems[fault if fault in ALONE else "together"]
    expected = PLANTED[fault][2]
    assert any(re.search(expected, problem) for problem in problems), (fault, problems)


def _longest_code_pages(count: int = 2) -> list[str]:
    """The chapters with the most code lines of nearly the full width (tools/wrap_code.py)."""

    def long_lines(md: Path) -> int:
        text = md.read_text()
        lines = text.splitlines()
        return sum(len(lines[n]) >= width - 2 for first, end, width in code_cells(text)
                   for n in range(first, end))  # fmt: skip

    chapters = sorted((ROOT / "chapters").glob("*.md"), key=long_lines, reverse=True)
    assert long_lines(chapters[0]) > 0
    return [f"chapters/{md.stem}.html" for md in chapters[:count]]


@pytest.mark.slow
@pytest.mark.parametrize("width", [1200, 1240, 1299])
def test_code_fits_where_the_theme_shows_both_sidebars(browser, base, width):
    """From 1200 pixels the theme shows both sidebars and the code column is narrower than at
    1280 (69 characters at 14 px); _static/code.css sets code smaller up to 1300 pixels. The
    pages with the longest lines, at both ends of that range and between, scroll no code."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        tab = context.new_page()
        for page in _longest_code_pages():
            tab.goto(urljoin(base, page), wait_until="load")
            tab.evaluate(WAIT_FOR_MATH_AND_FONTS)
            wide = tab.evaluate(INSPECT)["wide_code"]
            assert not wide, f"{page} at {width} px: code scrolls sideways: {wide[:3]}"
    finally:
        context.close()


@pytest.mark.slow
def test_search_finds_pages(browser, base):
    context = browser.new_context()
    try:
        tab = context.new_page()
        errors = []
        tab.on("console", lambda m: m.type == "error" and errors.append(m.text))
        tab.goto(urljoin(base, "search.html?q=sigmoid"), wait_until="load")
        tab.wait_for_selector("#search-results li a", timeout=20_000)
        hits = tab.eval_on_selector_all("#search-results li a", "as => as.map(a => a.href)")
    finally:
        context.close()
    assert not errors
    assert any("02_activation_functions" in hit for hit in hits), f"search results: {hits[:5]}"


@pytest.mark.slow
def test_chinese_search_finds_pages(browser, base):
    """A Chinese query, as a reader types it, finds the pages about it (jieba's words and the
    glossary's terms: _ext/zh_search.py)."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(urljoin(base, "zh_CN/search.html?q=梯度消失"), wait_until="load")
        tab.wait_for_selector("#search-results li a", timeout=20_000)
        hits = tab.eval_on_selector_all("#search-results li a", "as => as.map(a => a.href)")
    finally:
        context.close()
    assert any("11_vanishing_exploding" in hit for hit in hits), f"search results: {hits[:5]}"
    assert all("/zh_CN/" in hit for hit in hits)
