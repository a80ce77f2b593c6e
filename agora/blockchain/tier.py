"""A recent tier: a small table that takes each block's randomly keyed inserts and is
merged into its large table in bulk, in key order, inside a block's transaction (the
tx-hash index, txindex.py, and the KV, state.py). Why: docs/blockchain.md, schema v3.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


class RecentTier:
    """Counts what went into the recent tier since the last merge; merges at a limit."""

    def __init__(self, conn: sqlite3.Connection, table: str, merge: Sequence[str]) -> None:
        self._conn = conn
        self._table = table
        self._merge = merge  # statements that move the rows and empty the table
        self.pending = 0
        self.reload()

    def reload(self) -> None:
        """The recent tier's size as the file has it (at start, after a rollback); the
        count only decides when to merge."""
        (n,) = self._conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()
        self.pending = int(n)

    def added(self, n: int, limit: int) -> None:
        """`n` rows went in (upserts of one key count each time): merge at `limit`."""
        self.pending += n
        if self.pending >= limit:
            for sql in self._merge:
                self._conn.execute(sql)
            self.pending = 0
