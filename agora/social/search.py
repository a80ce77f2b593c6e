"""Search over posts (FTS5, sharded), profiles (FTS5), hashtags, and trending hashtags.

User text never reaches FTS5's query syntax: it is cut into words, each quoted,
so any input is a valid query (all words must match).
"""

from __future__ import annotations

import bisect
import re
import sqlite3

from agora.errors import RemoteError
from agora.social import schema as sc
from agora.social import tiers
from agora.social.cursor import MAX_SEQ, num_cursor, parse_num, parse_seq, seq_cursor
from agora.social.index import HOUR_MS
from agora.social.queries import Queries
from agora.social.reader import clamp
from agora.social.views import AccountItem, AccountPage, AccountRef, PostPage, TagCount, TagPage

_WORD = re.compile(r"\w+")
MAX_WORDS = 8
_TAG = re.compile(r"#?(\w{1,50})")
_HASHTAG = (
    tiers.TAGS.arms("SELECT seq FROM {table} WHERE tag = ? AND seq < ?")
    + " ORDER BY seq DESC LIMIT ?"
)


def fts_query(text: str, *, prefix: bool = False) -> str:
    words = _WORD.findall(text.casefold())[:MAX_WORDS]
    if not words:
        raise RemoteError("a search needs at least one word", code="bad_query")
    q = " ".join(f'"{w}"' for w in words)
    return q + "*" if prefix else q


def tag_of(text: str) -> str:
    m = _TAG.fullmatch(text.strip())
    if m is None:
        raise RemoteError("a hashtag is up to 50 letters, digits or _", code="bad_query")
    return m.group(1).casefold()


class Search(Queries):
    def _shards(self, c: sqlite3.Connection) -> list[int]:
        return [lo for _, lo in c.execute("SELECT k, lo FROM social_fts_shards ORDER BY k")]

    def search_posts(self, query: str, cursor: str | None = None, limit: int = 20) -> PostPage:
        """Posts with every word of `query`, newest first."""
        limit, match = clamp(limit), fts_query(query)
        before = MAX_SEQ + 1 if cursor is None else parse_seq(cursor)
        with self.snapshot() as c:
            los = self._shards(c)
            seqs: list[int] = []
            k = bisect.bisect_left(los, before) - 1  # the shard holding seq `before - 1`
            while k >= 0 and len(seqs) < limit:
                t = sc.fts_table(k)
                seqs += [
                    s
                    for (s,) in c.execute(
                        f"SELECT rowid FROM {t} WHERE {t} MATCH ? AND rowid < ?"
                        " ORDER BY rowid DESC LIMIT ?",
                        (match, before, limit - len(seqs)),
                    )
                ]
                k -= 1
            views = self.views(c, seqs)
        items = [views[s] for s in seqs if s in views]
        return PostPage(items, seq_cursor(seqs[-1]) if len(seqs) == limit else None)

    def search_profiles(
        self, query: str, cursor: str | None = None, limit: int = 20
    ) -> AccountPage:
        """Accounts whose handle, name or bio has every word (the last one as a prefix),
        newest accounts first."""
        limit, match = clamp(limit), fts_query(query, prefix=True)
        before = 2**62 if cursor is None else parse_num("a", cursor)
        with self.snapshot() as c:
            rows = c.execute(
                "SELECT a.id, a.key, a.handle, a.name, a.bio FROM social_accounts a"
                " WHERE a.id IN (SELECT rowid FROM social_profile_fts"
                " WHERE social_profile_fts MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?)"
                " ORDER BY a.id DESC",
                (match, before, limit),
            ).fetchall()
        items = [
            AccountItem(num_cursor("a", i), AccountRef(bytes(k).hex(), h), n, b)
            for i, k, h, n, b in rows
        ]
        return AccountPage(items, items[-1].cursor if len(items) == limit else None)

    def hashtag(self, tag: str, cursor: str | None = None, limit: int = 20) -> PostPage:
        """Posts with a hashtag (its current version), newest first."""
        limit, t = clamp(limit), tag_of(tag)
        before = MAX_SEQ + 1 if cursor is None else parse_seq(cursor)
        with self.snapshot() as c:
            seqs = [s for (s,) in c.execute(_HASHTAG, (*tiers.TAGS.args(t, before), limit))]
            views = self.views(c, seqs)
        items = [views[s] for s in seqs]
        return PostPage(items, seq_cursor(seqs[-1]) if len(seqs) == limit else None)

    def search_tags(self, prefix: str, cursor: str | None = None, limit: int = 20) -> TagPage:
        """Hashtags that start with `prefix`, in alphabetical order, with their post counts."""
        limit, p = clamp(limit), tag_of(prefix)
        after = p if cursor is None else cursor.removeprefix("g.")
        if cursor is not None and (not cursor.startswith("g.") or not after.startswith(p)):
            raise RemoteError("not a hashtag cursor for this prefix", code="bad_cursor")
        with self.snapshot() as c:
            rows = c.execute(
                "SELECT tag, n FROM social_tag_totals WHERE tag >= ? AND tag < ?"
                " AND tag > ? ORDER BY tag LIMIT ?",
                (p, p + "\U0010ffff", after if cursor is not None else "", limit),
            ).fetchall()
        items = [TagCount(t, n) for t, n in rows]
        return TagPage(items, f"g.{items[-1].tag}" if len(items) == limit else None)

    def trending(self, hours: int = 24, cursor: str | None = None, limit: int = 20) -> TagPage:
        """The hashtags used most in the last `hours` hours of block time; the cursor pins
        the window, so later pages rank the same hours."""
        limit = clamp(limit)
        hours = max(1, min(int(hours), 24 * 30))
        with self.snapshot() as c:
            if cursor is None:
                row = c.execute("SELECT max(time) FROM blocks").fetchone()
                last = (row[0] or 0) // HOUR_MS
                start, offset = last - hours + 1, 0
            else:
                start, offset = self._trend_cursor(cursor)
            rows = c.execute(
                "SELECT tag, sum(n) AS c FROM social_tag_hours WHERE hour >= ? AND hour < ?"
                " GROUP BY tag ORDER BY c DESC, tag LIMIT ? OFFSET ?",
                (start, start + hours, limit, offset),
            ).fetchall()
        items = [TagCount(t, n) for t, n in rows]
        more = len(items) == limit
        return TagPage(items, f"t.{start}.{offset + limit}" if more else None)

    @staticmethod
    def _trend_cursor(cursor: str) -> tuple[int, int]:
        parts = cursor.split(".")
        if len(parts) != 3 or parts[0] != "t" or not all(x.isdigit() for x in parts[1:]):
            raise RemoteError("not a trending cursor", code="bad_cursor")
        start, offset = int(parts[1]), int(parts[2])
        if start > 2**40 or offset > 10_000:
            raise RemoteError("not a trending cursor", code="bad_cursor")
        return start, offset
