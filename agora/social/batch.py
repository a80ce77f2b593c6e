"""One block's append-only index rows, written at its end (`Module.end_block`).

A post was ~7 statements of its own (its row, the author's count, FTS5, three
hashtag tables, the parent's count, a notification); here they are gathered for
the whole block and written with one `executemany` per table in key order, and
counters are summed first (one update per account, post, tag). Only rows no
later step of the block reads go here: a kind that reads or removes index rows
(edit, delete, unreact…) writes the batch out first (`write`), so it sees every
row of the block so far. The result is the same rows as writing them one by one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from agora.social import tiers
from agora.social.state import height_of

HOUR_MS = 3_600_000
# Post counters, by column index in Batch.counts.
REPLIES, QUOTES, REPOSTS, REACTIONS = 0, 1, 2, 3

_COUNTS = (
    "UPDATE social_posts SET replies = replies + ?, quotes = quotes + ?,"
    " reposts = reposts + ?, reactions = reactions + ? WHERE seq = ?"
)


@dataclass(slots=True)
class Batch:
    posts: list[tuple[object, ...]] = field(default_factory=list)  # social_posts rows
    roots: dict[int, int] = field(default_factory=dict)  # seq -> root of posts in `posts`
    fts: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # shard -> rows
    tags: list[tuple[str, int]] = field(default_factory=list)
    tag_totals: dict[str, int] = field(default_factory=dict)
    tag_hours: dict[tuple[int, str], int] = field(default_factory=dict)
    notes: list[tuple[int, int, int, int, int | None, int]] = field(default_factory=list)
    reactions: list[tuple[int, int, str, int]] = field(default_factory=list)
    counts: dict[int, list[int]] = field(default_factory=dict)  # post seq -> 4 deltas
    author_posts: dict[int, int] = field(default_factory=dict)  # account id -> delta

    def count(self, seq: int, column: int, delta: int = 1) -> None:
        c = self.counts.get(seq)
        if c is None:
            c = self.counts[seq] = [0, 0, 0, 0]
        c[column] += delta

    def add_tags(self, seq: int, time_ms: int, tags: list[str]) -> None:
        hour = time_ms // HOUR_MS
        totals, hours = self.tag_totals, self.tag_hours
        for tag in tags:
            self.tags.append((tag, seq))
            totals[tag] = totals.get(tag, 0) + 1
            hours[(hour, tag)] = hours.get((hour, tag), 0) + 1

    def write(self, c: sqlite3.Connection) -> None:
        """Everything gathered so far, then start afresh (the same block may go on)."""
        if self.posts:
            c.executemany(
                "INSERT INTO social_posts (seq, id, author, kind, time, text, parent, quote, root)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.posts,
            )
        for table, rows in self.fts.items():
            c.executemany(f"INSERT INTO {table} (rowid, text) VALUES (?, ?)", rows)
        if self.counts:
            c.executemany(_COUNTS, [(*v, k) for k, v in sorted(self.counts.items())])
        if self.author_posts:
            c.executemany(
                "UPDATE social_accounts SET posts = posts + ? WHERE id = ?",
                [(n, a) for a, n in sorted(self.author_posts.items())],
            )
        if self.tags:
            c.executemany("INSERT INTO social_tags_new (tag, seq) VALUES (?, ?)", sorted(self.tags))
            tiers.added(c, tiers.TAGS, height_of(self.tags[-1][1]))
            c.executemany(
                "INSERT INTO social_tag_totals (tag, n) VALUES (?, ?)"
                " ON CONFLICT (tag) DO UPDATE SET n = n + excluded.n",
                sorted(self.tag_totals.items()),
            )
            c.executemany(
                "INSERT INTO social_tag_hours (hour, tag, n) VALUES (?, ?, ?)"
                " ON CONFLICT (hour, tag) DO UPDATE SET n = n + excluded.n",
                [(h, t, n) for (h, t), n in sorted(self.tag_hours.items())],
            )
        if self.reactions:
            c.executemany(
                "INSERT INTO social_reactions (post, account, reaction, seq) VALUES (?, ?, ?, ?)",
                sorted(self.reactions),
            )
        if self.notes:
            c.executemany(
                "INSERT INTO social_notifications_new (id, recipient, kind, actor, subject, time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                self.notes,  # ids ascend: seq << 8 | n, in block order
            )
            tiers.added(c, tiers.NOTES, height_of(self.notes[-1][0] >> 8))  # id: seq << 8 | n
        self.clear()

    def clear(self) -> None:
        self.posts, self.roots, self.fts, self.tags = [], {}, {}, []
        self.tag_totals, self.tag_hours, self.notes, self.reactions = {}, {}, [], []
        self.counts, self.author_posts = {}, {}
