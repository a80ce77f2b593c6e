"""Read-only SQLite connections, one per thread, for the queries the RPC threads run.

The chain's single writer is another connection; in WAL mode readers never
block it, and `snapshot()` gives one consistent view for several statements.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from agora.errors import LocalError


class ReadOnlyPool:
    def __init__(self, path: Path | str) -> None:
        if str(path) == ":memory:":
            raise LocalError("a reader needs a file, not :memory:", code="bad_config")
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, `mode=ro`)."""
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            c = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA busy_timeout = 5000")
            self._local.conn = c
            with self._lock:
                self._all.append(c)
        return c

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection inside one read transaction."""
        c = self.conn()
        c.execute("BEGIN")
        try:
            yield c
        finally:
            c.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection (call it when no query is running)."""
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            c.close()
        self._local = threading.local()
