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
        self._idle = threading.Condition(self._lock)
        self._busy = 0  # snapshots in progress, on any thread
        self._closed = False

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
        with self._lock:
            if self._closed:
                raise LocalError("the store's readers are closed", code="reader_closed")
            self._busy += 1
        try:
            c = self.conn()
            c.execute("BEGIN")
            try:
                yield c
            finally:
                try:
                    c.execute("COMMIT")
                except sqlite3.ProgrammingError:
                    if not self._closed:  # else close() gave up waiting for us
                        raise
        finally:
            with self._lock:
                self._busy -= 1
                if not self._busy:
                    self._idle.notify_all()

    def close(self, timeout: float = 10.0) -> None:
        """Close every thread's connection, once the snapshots in progress are done:
        closing a connection another thread is reading from crashes the process."""
        with self._lock:
            self._closed = True
            self._idle.wait_for(lambda: not self._busy, timeout)
            conns, self._all = self._all, []
        for c in conns:
            c.close()
        self._local = threading.local()
