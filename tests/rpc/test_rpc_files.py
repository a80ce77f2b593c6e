"""Static files: index for routes, content types, caching, and no way out of the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rpc_helpers import HttpClient, raw_exchange, run, serving

from agora.rpc.app import RpcConfig
from agora.rpc.files import DEFAULT_ROOT, StaticFiles
from agora.rpc.server import RpcServer

SECRET = b"TOP-SECRET-42"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "assets").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "index.html").write_bytes(b"<!doctype html><title>app</title>")
    (root / "assets" / "app.js").write_bytes(b"console.log(1)")
    (root / "assets" / "style.css").write_bytes(b"body{}")
    (root / "assets" / "logo.svg").write_bytes(b"<svg/>")
    (root / "docs" / "index.html").write_bytes(b"<p>docs</p>")
    (root / ".env").write_bytes(SECRET)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", root / "assets" / "link.txt")
    return root


def test_lookup_rules(site: Path) -> None:
    files = StaticFiles(site)
    index = files.lookup(b"/")
    assert index is not None and index.body.startswith(b"<!doctype")
    assert index.content_type == "text/html; charset=utf-8" and index.cache_control == "no-cache"
    js = files.lookup(b"/assets/app.js")
    assert js is not None and js.content_type == "text/javascript; charset=utf-8"
    assert js.cache_control.startswith("public")
    css, svg = files.lookup(b"/assets/style.css"), files.lookup(b"/assets/logo.svg")
    assert css is not None and css.content_type.startswith("text/css")
    assert svg is not None and svg.content_type == "image/svg+xml"
    docs = files.lookup(b"/docs")
    assert docs is not None and docs.body == b"<p>docs</p>"
    for route in (b"/feed", b"/u/alice", b"/post/abc123/replies"):
        found = files.lookup(route)
        assert found is not None and found.body == index.body, route
    assert files.lookup(b"/assets/missing.js") is None
    assert files.lookup(b"/%61ssets/app.js") == js  # percent-decoded


@pytest.mark.parametrize(
    "path",
    [
        b"/../secret.txt",
        b"/assets/../../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/%2E%2E%2Fsecret.txt",
        b"/..%2fsecret.txt",
        b"/assets/%2e%2e/%2e%2e/secret.txt",
        b"/..%5csecret.txt",
        b"/assets\\..\\..\\secret.txt",
        b"/assets/link.txt",
        b"/.env",
        b"/%2eenv",
        b"/assets/app.js%00.html",
        b"/%ff%fe",
        b"//secret.txt/..",
        b"/C:/Windows/win.ini",
    ],
)
def test_traversal_attempts_never_leave_the_root(site: Path, path: bytes) -> None:
    found = StaticFiles(site).lookup(path)
    assert found is None or SECRET not in found.body


def test_the_package_ships_a_placeholder_client() -> None:
    found = StaticFiles().lookup(b"/")
    assert found is not None and b"Agora" in found.body
    assert (DEFAULT_ROOT / "index.html").is_file()


def test_served_over_http(site: Path) -> None:
    async def scenario() -> None:
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), static_dir=str(site)))
        async with serving(rpc) as addr:
            c = await HttpClient.connect(addr)
            r = await c.request("GET", "/")
            assert r.status == 200 and r.body.startswith(b"<!doctype html>")
            assert r.headers["cache-control"] == "no-cache"
            assert r.headers["content-type"] == "text/html; charset=utf-8"
            r = await c.request("GET", "/assets/app.js")
            assert r.status == 200 and r.body == b"console.log(1)"
            assert r.headers["content-type"] == "text/javascript; charset=utf-8"
            etag = r.headers["etag"]
            r = await c.request("GET", "/assets/app.js", None, [("if-none-match", etag)])
            assert r.status == 304 and r.body == b""
            r = await c.request("HEAD", "/assets/app.js")
            assert r.status == 200 and r.body == b"" and r.headers["content-length"] == "14"
            r = await c.request("GET", "/some/route?x=1")
            assert r.status == 200 and r.body.startswith(b"<!doctype html>")
            r = await c.request("GET", "/nope.png")
            assert r.status == 404
            await c.close()
            for raw in (b"/../secret.txt", b"/%2e%2e/secret.txt", b"/assets/link.txt", b"/.env"):
                req = b"GET " + raw + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                out = await raw_exchange(addr, req)
                assert out.startswith(b"HTTP/1.1 "), out[:20]
                assert SECRET not in out

    run(scenario())
