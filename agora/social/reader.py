"""Read-only access to the social index, from any thread (RPC handlers, subscriptions).

Each thread has its own `mode=ro` connection; each query runs in one read
transaction, so it sees one committed block. Pages are keyset-paginated on
(height, tx index): a page never shifts when new blocks arrive.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from agora.blockchain.schema import TX_ID_BITS
from agora.errors import RemoteError
from agora.social.cursor import seq_cursor
from agora.social.views import AccountRef, PostView
from agora.sqlite_ro import ReadOnlyPool

HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_HANDLE = re.compile(r"@?([A-Za-z0-9_]{3,20})")
MAX_LIMIT = 100

POST_COLS = (
    "p.seq, p.id, a.key, a.handle, p.time, p.text, pp.id, q.id, r.id, p.deleted, p.edits,"
    " p.replies, p.reposts, p.quotes, p.reactions"
)
POST_FROM = (
    "social_posts p JOIN social_accounts a ON a.id = p.author"
    " LEFT JOIN social_posts pp ON pp.seq = p.parent"
    " LEFT JOIN social_posts q ON q.seq = p.quote"
    " LEFT JOIN social_posts r ON r.seq = p.root"
)


def not_found(what: str) -> RemoteError:
    return RemoteError(f"no such {what}", code="not_found")


def clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def _hex(v: Any) -> str | None:
    return None if v is None else bytes(v).hex()


def post_view(row: Any) -> PostView:
    seq, pid = int(row[0]), bytes(row[1]).hex()
    return PostView(
        id=pid,
        cursor=seq_cursor(seq),
        author=AccountRef(bytes(row[2]).hex(), row[3]),
        time_ms=row[4],
        height=seq >> TX_ID_BITS,
        text=row[5],
        reply_to=_hex(row[6]),
        quote_of=_hex(row[7]),
        root=_hex(row[8]) or pid,
        deleted=bool(row[9]),
        edits=row[10],
        replies=row[11],
        reposts=row[12],
        quotes=row[13],
        reactions=row[14],
    )


class Base(ReadOnlyPool):
    # --- shared lookups (inside a snapshot)

    def account_id(self, c: sqlite3.Connection, who: str) -> tuple[int, bytes]:
        """An account named by its hex key or its handle (with or without @)."""
        if HEX_KEY.fullmatch(who):
            row = c.execute(
                "SELECT id, key FROM social_accounts WHERE key = ?", (bytes.fromhex(who),)
            ).fetchone()
        elif (m := _HANDLE.fullmatch(who)) is not None:
            row = c.execute(
                "SELECT id, key FROM social_accounts WHERE handle = ?", (m.group(1).lower(),)
            ).fetchone()
        else:
            raise RemoteError("an account is a 64-hex-digit key or a @handle", code="bad_account")
        if row is None:
            raise not_found("account")
        return int(row[0]), bytes(row[1])

    def post_seq(self, c: sqlite3.Connection, post_id: str) -> int:
        if not HEX_KEY.fullmatch(post_id):
            raise RemoteError("a post id is 64 hex digits", code="bad_post_id")
        row = c.execute(
            "SELECT value FROM state_now WHERE key = ?", (b"social/p/" + bytes.fromhex(post_id),)
        ).fetchone()
        if row is None:
            raise not_found("post")
        return int.from_bytes(bytes(row[0])[32:40], "big")

    def views(self, c: sqlite3.Connection, seqs: Sequence[int]) -> dict[int, PostView]:
        if not seqs:
            return {}
        marks = ",".join("?" * len(seqs))
        rows = c.execute(f"SELECT {POST_COLS} FROM {POST_FROM} WHERE p.seq IN ({marks})", seqs)
        return {int(r[0]): post_view(r) for r in rows}

    def hidden(self, c: sqlite3.Connection, aid: int) -> list[int]:
        """Accounts `aid` muted or blocked."""
        q = "SELECT DISTINCT target FROM social_hides WHERE owner = ?"
        return [int(t) for (t,) in c.execute(q, (aid,))]

    def followees(self, c: sqlite3.Connection, aid: int) -> list[int]:
        q = "SELECT followee FROM social_follows WHERE follower = ?"
        return [int(t) for (t,) in c.execute(q, (aid,))]
