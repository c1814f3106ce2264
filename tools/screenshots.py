"""`make screenshots`: pages of the built book as a reader sees them, for review.

Serves _build/html (both editions, as `make book` builds them) on 127.0.0.1, opens each page
in Debian's Chromium (Playwright drives it and downloads nothing), waits for MathJax and the
fonts, and saves a full-page PNG under _build/screenshots/. The browser tests
(tests/book/test_browser.py) use the same browser settings.

    python -m tools.screenshots                                  # the default pages
    python -m tools.screenshots chapters/05_regression_losses zh_CN/chapters/05_regression_losses
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "screenshots"
DEFAULT_PAGES = (
    "chapters/00_training",
    "chapters/04_measuring_error",
    "zh_CN/chapters/04_measuring_error",
    "chapters/14_gradients_through_time",
)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
WAIT_FOR_MATH_AND_FONTS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;
  return true;
}"""


def chromium() -> str | None:
    """Debian's Chromium (or $CHROMIUM), or None where there is none."""
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """The site on 127.0.0.1 for the duration of the block; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def screenshots(pages: list[str], width: int = 1280, height: int = 2200) -> list[Path]:
    """A PNG of each page (its path in the site without .html); returns the files."""
    from playwright.sync_api import sync_playwright

    path = chromium()
    if path is None:
        raise SystemExit("Chromium is not installed; `make browser-deps` installs Debian's")
    if not (SITE / "intro.html").is_file():
        raise SystemExit(f"no built book in {SITE}; run `make book` first")
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with serve(SITE) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        tab = browser.new_context(viewport={"width": width, "height": height}).new_page()
        for page in pages:
            png = OUT / (page.replace("/", "_") + ".png")
            tab.goto(f"{base}{page}.html", wait_until="load")
            tab.evaluate(WAIT_FOR_MATH_AND_FONTS)
            tab.screenshot(path=str(png), full_page=True)
            written.append(png)
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", default=list(DEFAULT_PAGES))
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args(argv)
    for png in screenshots(args.pages, width=args.width):
        print(png.relative_to(ROOT), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
