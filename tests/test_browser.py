"""The built book in a real browser (headless Chromium), served from 127.0.0.1, no network.

For every page of the table of contents: no console error, every resource the page asks for
is served (images, scripts, styles), every internal link and anchor resolves, and every
formula is rendered by the MathJax bundled in the site (none left as raw TeX). Screenshots
of two pages are saved under _build/screenshots/ for review.

Needs Debian's ``chromium`` (``make browser-deps`` installs it); without it the tests are
skipped, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import functools
import html
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from tools import notebooks
from tools.makevars import make_variable

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_ERROR = re.compile(r"Uncaught|Error|Failed to load|net::ERR_|Refused to", re.I)
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--enable-logging=stderr", "--v=0",
]  # fmt: skip


def _chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def chromium():
    path = _chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed; run `make browser-deps` (CI must run these)")
        pytest.skip("Chromium is not installed (make browser-deps installs Debian's chromium)")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", *make_variable("BOOK_FLAGS").split(), str(ROOT),
                             "--path-output", str(out)], capture_output=True, text=True, timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out / "_build" / "html"


class _Handler(SimpleHTTPRequestHandler):
    log: list[tuple[str, int]]

    def log_request(self, code="-", size="-"):
        self.log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    log: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"log": log})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", log
    httpd.shutdown()


PAGES = notebooks.toc_files(ROOT / "_toc.yml")


def _render(chromium, url, tmp_path, extra=()):
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000",
         *extra, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_cleanly_offline(page, chromium, server, site, tmp_path):
    base, log = server
    url = urljoin(base, f"{page}.html")
    log.clear()
    dom, console = _render(chromium, url, tmp_path, ["--dump-dom"])
    assert "</html>" in dom, "the page did not render"

    errors = [line for line in console if CONSOLE_ERROR.search(line)]
    assert not errors, f"console errors on {page}: {errors}"

    failed = [(path, code) for path, code in log if code >= 400 and path != "/favicon.ico"]
    assert not failed, f"{page}: requests that failed: {failed}"

    for src in re.findall(r'<img[^>]+src="([^"]+)"', dom):
        target = urlparse(urljoin(url, html.unescape(src)))
        assert target.netloc == urlparse(base).netloc, f"{page}: image from elsewhere: {src}"
        assert (site / unquote(target.path).lstrip("/")).is_file(), f"{page}: missing image {src}"
        assert any(path.split("?")[0] == target.path and code == 200 for path, code in log), (
            f"{page}: image {src} was not loaded"
        )

    for href in re.findall(r'<a[^>]+href="([^"]+)"', dom):
        href = html.unescape(href)
        if href.startswith(("http://", "https://", "mailto:", "javascript:")):
            continue
        target = urlparse(urljoin(url, href))
        path = site / unquote(target.path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        assert path.is_file(), f"{page}: broken link {href}"
        if target.fragment and path.suffix == ".html":
            ids = set(re.findall(r'id="([^"]+)"', path.read_text(encoding="utf-8")))
            assert target.fragment in ids, f"{page}: link {href} points to a missing anchor"

    static = (site / f"{page}.html").read_text(encoding="utf-8")
    n_math = len(re.findall(r'class="math notranslate nohighlight"', static))
    if n_math:
        rendered = dom.count("<mjx-container")
        assert rendered >= n_math, f"{page}: {n_math} formulas but {rendered} rendered"
        raw = re.findall(r'class="math notranslate nohighlight">\s*(\\\(|\\\[|\$\$)', dom)
        assert not raw, f"{page}: {len(raw)} formulas left as raw TeX"


@pytest.mark.slow
def test_screenshots_for_review(chromium, server, tmp_path):
    base, _ = server
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for page in ("chapters/04_measuring_error", "chapters/02_activation_functions"):
        png = out / (page.split("/")[-1] + ".png")
        png.unlink(missing_ok=True)
        _render(chromium, urljoin(base, f"{page}.html"), tmp_path,
                [f"--screenshot={png}", "--window-size=1280,2200", "--hide-scrollbars"])  # fmt: skip
        assert png.is_file() and png.stat().st_size > 20_000, f"no screenshot of {page}"


@pytest.mark.slow
def test_search_finds_pages(chromium, server, tmp_path):
    base, _ = server
    dom, console = _render(
        chromium, urljoin(base, "search.html?q=sigmoid"), tmp_path, ["--dump-dom"]
    )
    assert not [line for line in console if CONSOLE_ERROR.search(line)]
    hits = re.findall(
        r'<li[^>]*>\s*<a[^>]+href="([^"]+\.html[^"]*)"', dom.split('id="search-results"')[-1]
    )
    assert any("02_activation_functions" in h for h in hits), f"search results: {hits[:5]}"
