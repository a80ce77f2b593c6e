"""The consensus state: one key-value space (`bytes -> bytes`), and its root.

Keys start with the owning module's name and a slash. The root is a hash chain
over what each block changed:

    root_h = sha256(root_{h-1} + sha256(encode(sorted [(key, value or None)]))
                               + sha256(encode([(index, code, message) of failed txs])))

with root_{-1} = the genesis hash and root_0 the root after the genesis state.
The cost is proportional to what a block changes, not to the size of the state;
the price is that there are no proofs of single values (a known limitation).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from agora.blockchain.tier import RecentTier
from agora.codec import encode, sha256

Writes = dict[bytes, bytes | None]  # None: deleted


Changes = list[tuple[bytes, bytes | None]]  # a block's writes, sorted by key


def sorted_changes(writes: Writes) -> Changes:
    return sorted(writes.items())


def changes_hash(writes: Writes) -> bytes:
    return sha256(encode(sorted_changes(writes)))


def next_root(
    prev: bytes, writes: Writes | Changes, failures: Iterable[tuple[int, str, str]]
) -> bytes:
    """`writes` may be given already sorted (`sorted_changes`): the store writes them
    in that order too, which keeps its B-tree inserts local."""
    changes = sorted_changes(writes) if isinstance(writes, dict) else writes
    return sha256(prev + sha256(encode(changes)) + sha256(encode(list(failures))))


# The KV's recent tier is merged into the large one once it holds this many rows. Keys
# such as a post's id are random: with one table, a block of 5,000 posts dirtied ~2,600
# of its 16 KiB pages at 500k posts, each written to the WAL at COMMIT and again by the
# checkpoint. The recent tier stays a few hundred pages; a merge writes each page of
# the large one once, in key order.
MERGE_KEYS = 1 << 17
_GET = "SELECT value FROM state_now WHERE key = ?"
_PUT = (
    "INSERT INTO state_new (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_MERGE = (
    "DELETE FROM state WHERE key IN (SELECT key FROM state_new WHERE value IS NULL)",
    "INSERT INTO state (key, value) SELECT key, value FROM state_new WHERE value IS NOT NULL"
    " ORDER BY key ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    "DELETE FROM state_new",
)


class StateStore:
    """The committed KV, read through a cache, on the writer's connection.

    Writes reach the table only inside the caller's block transaction, and the
    cache learns them only once that transaction committed (`committed`).
    The cache has two generations of plain dicts: when the young one is full it
    becomes the old one and the old one is dropped, and a hit in the old one moves
    up. Hot keys (the active accounts, recent posts) so outlive a stream of keys
    written once (every post's), where clearing the whole cache made the next
    reads of every account go to SQLite again.

    On disk the KV is two tables (`MERGE_KEYS`); readers see them as the view
    `state_now`.
    """

    def __init__(self, conn: sqlite3.Connection, cache_size: int = 500_000) -> None:
        self._conn = conn
        self._new: dict[bytes, bytes | None] = {}
        self._old: dict[bytes, bytes | None] = {}
        self._half = max(1, cache_size // 2)
        self.tier = RecentTier(conn, "state_new", _MERGE)

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._new[key]
        except KeyError:
            pass
        old = self._old
        if key in old:
            value = old.pop(key)
        else:
            row = self._conn.execute(_GET, (key,)).fetchone()
            value = None if row is None else bytes(row[0])
        self._put(key, value)
        return value

    def _put(self, key: bytes, value: bytes | None) -> None:
        new = self._new
        if len(new) >= self._half:
            self._old, self._new = new, {}
            new = self._new
        new[key] = value

    def write(self, writes: Writes | Changes) -> None:
        """Inside the block's transaction (in key order if given sorted); a deletion is
        a NULL in the recent tier until a merge."""
        items = list(writes.items()) if isinstance(writes, dict) else writes
        self._conn.executemany(_PUT, items)
        self.tier.added(len(items), MERGE_KEYS)

    def committed(self, writes: Writes) -> None:
        # A value older than one in the young generation is never read: `get` looks
        # there first, and a turnover drops the old generation with it.
        if len(self._new) + len(writes) > self._half:
            self._old, self._new = self._new, {}
        self._new.update(writes)

    def forget(self) -> None:
        """After a rollback whose reads may have cached nothing wrong, but be safe."""
        self._new, self._old = {}, {}


class Overlay:
    """Writes on top of a reader; a tx gets its own overlay so a failure drops just its writes."""

    __slots__ = ("_read", "writes")

    def __init__(self, read: Callable[[bytes], bytes | None]) -> None:
        self._read = read
        self.writes: Writes = {}

    def get(self, key: bytes) -> bytes | None:
        w = self.writes
        if key in w:
            return w[key]
        return self._read(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def merge_into(self, parent: Overlay) -> None:
        parent.writes.update(self.writes)
