"""Writing the social index, inside the block's SQLite transaction (`ctx.conn`).

Without a savepoint per tx (`ctx.db` would open one): FTS5 writes its pending
terms out as a new segment at every savepoint, which made each post cost a
segment write (~50 µs) and left thousands of tiny segments to merge. This is
safe because a social tx never fails after its check passed: `apply` raises
nothing once it has written (the checks all run before, in `check`), so there
is never a half-written tx to roll back; any other error fails the whole block.

Nothing here is in the state root; it must still be the same on every node,
including one that synced blocks whose bodies were already erased: such a post
becomes a row exactly like a deleted one (see `tombstone` and `delete_post`).
"""

from __future__ import annotations

import bisect
import sqlite3

from agora.social import schema as sc
from agora.social import tiers
from agora.social.batch import HOUR_MS, Batch

__all__ = ["HOUR_MS", "IndexWriter"]


class IndexWriter:
    """The module's writer side. Keeps the FTS shard layout in memory (reloaded per
    block); which shard holds a post is a local layout detail, never a query result."""

    def __init__(self) -> None:
        self._height = -1
        self._los: list[int] = []  # first seq of each shard, ascending; shard k = index k
        self._n = 0  # posts in the last shard
        self._ids: dict[bytes, int] = {}
        self._ids_height = -1
        self._made: set[bytes] = set()  # accounts made at `_ids_height`
        self.batch = Batch()  # the block's append-only rows (SocialModule.apply sets it)

    def new_block(self, batch: Batch) -> None:
        """A block starts executing: its own batch, and the shard layout read afresh
        (a block that rolled back may have made a shard that is not there)."""
        self.batch = batch
        self._height, self._los = -1, []

    # --- accounts

    def account(self, c: sqlite3.Connection, key: bytes, seq: int) -> int:
        """The account's number, made on first sight. Numbers of rows committed by an
        earlier block are cached; rows made in this block are not (it may roll back)."""
        aid = self._ids.get(key)
        if aid is not None:
            return aid
        if seq >> 20 != self._ids_height:
            self._ids_height, self._made = seq >> 20, set()
        row = c.execute("SELECT id FROM social_accounts WHERE key = ?", (key,)).fetchone()
        if row is not None:
            if key not in self._made:
                if len(self._ids) >= 200_000:
                    self._ids.clear()
                self._ids[key] = int(row[0])
            return int(row[0])
        cur = c.execute("INSERT INTO social_accounts (key, since) VALUES (?, ?)", (key, seq))
        self._made.add(key)
        assert cur.lastrowid is not None
        return cur.lastrowid

    def set_profile(self, c: sqlite3.Connection, aid: int, **change: str | None) -> None:
        """Change some of handle (None: none), name, bio, avatar; keep their FTS row in step."""
        oh, on, ob, oa = c.execute(
            "SELECT handle, name, bio, avatar FROM social_accounts WHERE id = ?", (aid,)
        ).fetchone()
        nh = change.get("handle", oh)
        nn, nb, na = (change.get(f, o) for f, o in (("name", on), ("bio", ob), ("avatar", oa)))
        c.execute(
            "UPDATE social_accounts SET handle = ?, name = ?, bio = ?, avatar = ? WHERE id = ?",
            (nh, nn, nb, na, aid),
        )
        old, new = (oh or "", on, ob), (nh or "", nn, nb)
        if old == new:
            return
        # Contentless FTS: a row is removed by giving back exactly what was inserted.
        if any(old):
            c.execute(
                "INSERT INTO social_profile_fts (social_profile_fts, rowid, handle, name, bio)"
                " VALUES ('delete', ?, ?, ?, ?)",
                (aid, *old),
            )
        if any(new):
            c.execute(
                "INSERT INTO social_profile_fts (rowid, handle, name, bio) VALUES (?, ?, ?, ?)",
                (aid, *new),
            )

    # --- full-text shards

    def _load(self, c: sqlite3.Connection, seq: int) -> None:
        """Once per block: the shards, and how many posts the last one holds before `seq`."""
        if seq >> 20 == self._height:
            return
        self._height = seq >> 20
        self._los = [lo for _, lo in c.execute("SELECT k, lo FROM social_fts_shards ORDER BY k")]
        row = c.execute(
            "SELECT count(*) FROM social_posts WHERE seq >= ? AND seq < ? AND kind = 0",
            (self._los[-1], seq),
        ).fetchone()
        self._n = int(row[0])

    def _shard_for_new(self, c: sqlite3.Connection, seq: int) -> str:
        self._load(c, seq)
        if self._n >= sc.SHARD_POSTS:
            k = len(self._los)
            c.execute(sc.create_shard(k))
            c.execute("INSERT INTO social_fts_shards (k, lo) VALUES (?, ?)", (k, seq))
            self._los.append(seq)
            self._n = 0
        self._n += 1
        return sc.fts_table(len(self._los) - 1)

    def _shard_of(self, c: sqlite3.Connection, seq: int) -> str:
        if not self._los:
            self._los = [
                lo for _, lo in c.execute("SELECT k, lo FROM social_fts_shards ORDER BY k")
            ]
        return sc.fts_table(bisect.bisect_right(self._los, seq) - 1)

    def fts_add(self, c: sqlite3.Connection, seq: int, text: str, new: bool) -> None:
        if new:  # a new post: into the batch (the layout was read in this block)
            self.batch.fts.setdefault(self._shard_for_new(c, seq), []).append((seq, text))
            return
        for attempt in (0, 1):
            t = self._shard_of(c, seq)
            try:
                c.execute(f"INSERT INTO {t} (rowid, text) VALUES (?, ?)", (seq, text))
                return
            except sqlite3.OperationalError:
                # A shard made by a block that then rolled back: read the layout again.
                if attempt:
                    raise
                self._height, self._los = -1, []

    def fts_remove(self, c: sqlite3.Connection, seq: int, text: str, purge: bool) -> None:
        t = self._shard_of(c, seq)
        c.execute(f"INSERT INTO {t} ({t}, rowid, text) VALUES ('delete', ?, ?)", (seq, text))
        if purge:  # rewrite the shard so that the words leave the file, not just the results
            c.execute(f"INSERT INTO {t} ({t}) VALUES ('optimize')")

    # --- hashtags

    def tags_add(self, seq: int, time_ms: int, tags: list[str]) -> None:
        self.batch.add_tags(seq, time_ms, tags)

    def tags_remove(self, c: sqlite3.Connection, seq: int, time_ms: int, tags: list[str]) -> None:
        """`time_ms` is when they were added (the bucket they were counted in)."""
        hour = time_ms // HOUR_MS
        for tag in tags:
            tiers.delete(c, tiers.TAGS, "tag = ? AND seq = ?", (tag, seq))
            for table, where, args in (
                ("social_tag_totals", "tag = ?", (tag,)),
                ("social_tag_hours", "hour = ? AND tag = ?", (hour, tag)),
            ):
                c.execute(f"UPDATE {table} SET n = n - 1 WHERE {where}", args)
                c.execute(f"DELETE FROM {table} WHERE {where} AND n <= 0", args)

    # --- notifications

    def notify(
        self,
        nid: int,
        recipient: int,
        kind: int,
        actor: int,
        subject: int | None,
        time_ms: int,
    ) -> None:
        self.batch.notes.append((nid, recipient, kind, actor, subject, time_ms))
