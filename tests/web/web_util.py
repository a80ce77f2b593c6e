"""Helpers for the browser tests: Debian's chromium driven by Playwright, a plain static
server for the client's modules, and what every screen must offer (names, keyboard).

The browser is /usr/bin/chromium (`make test` installs it with apt-get); Playwright
never downloads one. The tests skip, saying why, only when either is truly missing.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

STATIC = Path(__file__).resolve().parents[2] / "agora" / "rpc" / "static"
SHOTS = Path(
    os.environ.get(
        "AGORA_SCREENSHOTS", Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    )
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}


def chromium_path() -> str:
    path = os.environ.get("AGORA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip(
            "Debian's chromium is not installed (make test installs it: apt-get install chromium)"
        )
    return path


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """A headless chromium, closed at the end."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    exe = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, directory=str(STATIC), **kw)

    def do_GET(self) -> None:
        if self.path in ("/", "/blank"):  # a page that loads no client: modules are imported
            body = b"<!doctype html><html><head><title>t</title></head><body></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def guess_type(self, path: Any) -> str:
        if str(path).endswith(".js"):
            return "text/javascript"
        return super().guess_type(path)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def static_server() -> Iterator[str]:
    """The client's files on 127.0.0.1 (a secure context for WebCrypto); yields the URL."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


# Every control must have a name a screen reader can say.
UNNAMED_JS = """() => {
  const name = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      return by.split(' ').map(id => (document.getElementById(id) || {}).textContent || '')
        .join(' ').trim();
    }
    const labels = el.labels ? [...el.labels].map(l => l.textContent).join(' ') : '';
    return (el.getAttribute('aria-label') || labels || el.getAttribute('title')
            || (el.tagName === 'INPUT' ? '' : el.textContent) || '').trim();
  };
  const out = [];
  for (const el of document.querySelectorAll('button, a[href], input, textarea, select')) {
    if (el.type === 'hidden' || el.closest('[hidden]')) continue;
    if (!name(el)) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
}"""


def unnamed_controls(page: Any) -> list[str]:
    result: list[str] = page.evaluate(UNNAMED_JS)
    return result


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
