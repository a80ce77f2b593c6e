"""The web client's static files: safe paths, content types, caching headers.

Paths are percent-decoded, then every segment is checked and the result is
resolved and must stay inside the root (symlinks included). `/`, and any path
whose last segment has no dot (a client-side route), get `index.html`.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes

DEFAULT_ROOT = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str
    cache_control: str


class StaticFiles:
    def __init__(self, root: str | Path | None = None, *, max_file: int = 16 << 20) -> None:
        self.root = Path(root if root is not None else DEFAULT_ROOT).resolve()
        self.max_file = max_file
        self._cache: dict[Path, tuple[int, int, StaticFile]] = {}

    def lookup(self, target_path: bytes) -> StaticFile | None:
        """The file for a request path (no query string), or None for 404."""
        rel = _safe_parts(target_path)
        if rel is None:
            return None
        path = self.root.joinpath(*rel) if rel else self.root / "index.html"
        found = self._file(path)
        if found is None and path.is_dir():
            found = self._file(path / "index.html")
        if found is None and (not rel or "." not in rel[-1]):
            found = self._file(self.root / "index.html")  # a route of the single-page client
        return found

    def _file(self, path: Path) -> StaticFile | None:
        try:
            real = path.resolve()
            if not real.is_relative_to(self.root):
                return None
            st = real.stat()
        except (OSError, RuntimeError, ValueError):
            return None
        if not os.path.isfile(real) or st.st_size > self.max_file:
            return None
        cached = self._cache.get(real)
        if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        try:
            body = real.read_bytes()
        except OSError:
            return None
        ctype = _TYPES.get(real.suffix.lower()) or mimetypes.guess_type(real.name)[0]
        html = real.suffix.lower() == ".html"
        f = StaticFile(
            body,
            ctype or "application/octet-stream",
            '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            "no-cache" if html else "public, max-age=3600",  # html names the other files
        )
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[real] = (st.st_mtime_ns, st.st_size, f)
        return f


def _safe_parts(target_path: bytes) -> list[str] | None:
    """The decoded path segments, or None if any could leave the root or is not plain text."""
    try:
        text = unquote_to_bytes(target_path).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.startswith("/") or "\x00" in text or "\\" in text:
        return None
    parts = [p for p in text.split("/") if p]
    for p in parts:
        if p in (".", "..") or p.startswith(".") or ":" in p or any(ord(c) < 32 for c in p):
            return None
    return parts
