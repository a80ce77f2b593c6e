"""Index tables in two tiers: a small recent table takes each block's rows and is merged
into the large table in bulk.

Notifications are indexed by recipient and hashtags by tag, so in a store of millions
each new row lands on a random page of a large B-tree: a block of 5,000 posts dirtied
~1,000 pages of the recipient index and ~300 of the tag table, each written to the WAL
at COMMIT and again by the checkpoint. The recent tier stays a few hundred pages; once
its oldest rows are `MERGE_BLOCKS` blocks old it is merged in key order, inside that
block's transaction, which writes each page of the large table once per merge. Queries
read both tiers (a UNION ALL in key order, so a page still stops at its limit) and
deletions go to both.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

MERGE_BLOCKS = 64


class Tier(NamedTuple):
    name: str
    old: str
    new: str
    key: str  # the large table's key, for a merge in key order

    @property
    def tables(self) -> tuple[str, str]:
        return (self.old, self.new)

    def arms(self, select: str) -> str:
        """`select` (with `{table}` for the table) over both tiers, as one UNION ALL."""
        return " UNION ALL ".join(select.replace("{table}", t) for t in self.tables)

    def args(self, *per_arm: object) -> tuple[object, ...]:
        """The parameters of `arms(select)`: `select`'s own, once per tier."""
        return per_arm * len(self.tables)


NOTES = Tier("notes", "social_notifications", "social_notifications_new", "id")
TAGS = Tier("tags", "social_tags", "social_tags_new", "tag, seq")


def added(c: sqlite3.Connection, tier: Tier, height: int) -> None:
    """After rows went into `tier.new` at `height`: start the tier's clock, or merge."""
    row = c.execute("SELECT since FROM social_tiers WHERE name = ?", (tier.name,)).fetchone()
    if row is None:
        c.execute("INSERT INTO social_tiers (name, since) VALUES (?, ?)", (tier.name, height))
    elif height - int(row[0]) >= MERGE_BLOCKS:
        c.execute(f"INSERT INTO {tier.old} SELECT * FROM {tier.new} ORDER BY {tier.key}")
        c.execute(f"DELETE FROM {tier.new}")
        c.execute("DELETE FROM social_tiers WHERE name = ?", (tier.name,))


def delete(c: sqlite3.Connection, tier: Tier, where: str, args: tuple[object, ...]) -> None:
    for t in tier.tables:
        c.execute(f"DELETE FROM {t} WHERE {where}", args)
