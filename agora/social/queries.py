"""The social queries: feeds, posts, threads, profiles, follows and notifications.

Every list is newest first and keyset-paginated: `cursor` is the last item's
cursor of the previous page; the next page holds what is strictly older.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from agora.social import schema as sc
from agora.social import tiers
from agora.social.cursor import MAX_SEQ, nid_cursor, parse_nid, parse_seq, seq_cursor
from agora.social.reader import Base, clamp
from agora.social.views import (
    AccountItem,
    AccountPage,
    AccountRef,
    FeedItem,
    FeedPage,
    Notification,
    NotificationPage,
    PostDetail,
    Profile,
    Relation,
    Thread,
    Version,
)

_ITEMS = (
    "SELECT p.seq, p.kind, p.quote FROM social_posts p"
    " LEFT JOIN social_posts t ON p.kind = 1 AND t.seq = p.quote"
    " WHERE p.seq < ? AND {author} AND p.deleted = 0"
    " AND (p.kind = 0 OR (t.deleted = 0 AND t.author NOT IN ({hidden})))"
    " ORDER BY p.seq DESC LIMIT ?"
)
_NOTIFS_ARM = (
    "SELECT n.id, n.kind, a.key, a.handle, s.id, n.time, src.id, rx.reaction"
    " FROM {table} n JOIN social_accounts a ON a.id = n.actor"
    " LEFT JOIN social_posts s ON s.seq = n.subject"
    " LEFT JOIN social_posts src ON n.kind IN (1, 2, 3, 4) AND src.seq = n.id >> 8"
    " LEFT JOIN social_reactions rx ON n.kind = 5 AND rx.post = n.subject"
    " AND rx.account = n.actor"
    " WHERE n.recipient = ? AND n.id {op} ? AND n.actor NOT IN ({hidden})"
    " AND (n.subject IS NULL OR s.deleted = 0)"
)
# Both tiers (tiers.py), each read in id order through its recipient index and merged,
# so a page still stops after `limit` rows.
_NOTIFS = tiers.NOTES.arms(_NOTIFS_ARM) + " ORDER BY 1 {order} LIMIT ?"


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _before(cursor: str | None) -> int:
    return MAX_SEQ + 1 if cursor is None else parse_seq(cursor)


def notification(row: Any, recipient: bytes) -> Notification:
    nid = int(row[0])
    return Notification(
        kind=sc.NOTIFICATION_KINDS[row[1]],
        recipient=recipient.hex(),
        actor=AccountRef(bytes(row[2]).hex(), row[3]),
        time_ms=row[5],
        height=nid >> 28,
        post=None if row[6] is None else bytes(row[6]).hex(),
        subject=None if row[4] is None else bytes(row[4]).hex(),
        reaction=row[7],
        cursor=nid_cursor(nid),
    )


class Queries(Base):
    _total: tuple[float, int] = (0.0, 0)

    # --- feeds

    def _total_posts(self, c: sqlite3.Connection) -> int:
        """For choosing a query plan only; refreshed every few seconds."""
        at, n = self._total
        if time.monotonic() - at > 5:
            n = int(c.execute("SELECT coalesce(sum(posts), 0) FROM social_accounts").fetchone()[0])
            self._total = (time.monotonic(), n)
        return n

    def _items(
        self, c: sqlite3.Connection, authors: list[int], hidden: list[int], before: int, limit: int
    ) -> list[tuple[int, int, int | None]]:
        if not authors:
            return []
        marks = _marks(len(authors))
        q = f"SELECT coalesce(sum(posts), 0) FROM social_accounts WHERE id IN ({marks})"
        mine = int(c.execute(q, authors).fetchone()[0])
        # Dense feeds: walk all items newest first and keep the followed ones; sparse
        # feeds: read the followed accounts' items by index and sort them.
        scan = mine * mine > limit * self._total_posts(c)
        author = f"{'+' if scan else ''}p.author IN ({_marks(len(authors))})"
        q = _ITEMS.format(author=author, hidden=_marks(len(hidden)))
        return c.execute(q, (before, *authors, *hidden, limit)).fetchall()

    def _page(self, c: sqlite3.Connection, rows: list[Any], limit: int) -> FeedPage:
        views = self.views(c, [r[0] for r in rows] + [r[2] for r in rows if r[1] == 1])
        items = []
        for seq, kind, target in rows:
            own = views[seq]
            post = own if kind == sc.POST else views[target]
            kind_name = "post" if kind == sc.POST else "repost"
            items.append(FeedItem(own.cursor, kind_name, own.id, own.author, own.time_ms, post))
        more = len(rows) == limit
        return FeedPage(items, seq_cursor(rows[-1][0]) if more else None)

    def feed(self, viewer: str, cursor: str | None = None, limit: int = 50) -> FeedPage:
        """Posts and reposts by the accounts `viewer` follows (and its own), without muted
        or blocked accounts, newest first."""
        limit, before = clamp(limit), _before(cursor)
        with self.snapshot() as c:
            me, _ = self.account_id(c, viewer)
            hidden = self.hidden(c, me)
            skip = set(hidden)
            authors = sorted(a for a in {*self.followees(c, me), me} if a not in skip)
            return self._page(c, self._items(c, authors, hidden, before, limit), limit)

    def posts(self, account: str, cursor: str | None = None, limit: int = 50) -> FeedPage:
        """An account's posts, replies and reposts, newest first."""
        limit, before = clamp(limit), _before(cursor)
        with self.snapshot() as c:
            aid, _ = self.account_id(c, account)
            q = _ITEMS.format(author="p.author = ?", hidden="")
            return self._page(c, c.execute(q, (before, aid, limit)).fetchall(), limit)

    # --- posts and threads

    def thread(self, post_id: str, cursor: str | None = None, limit: int = 50) -> Thread:
        """The root of `post_id`'s thread and its replies at any depth, newest first."""
        limit, before = clamp(limit), _before(cursor)
        with self.snapshot() as c:
            seq = self.post_seq(c, post_id)
            (root,) = c.execute("SELECT root FROM social_posts WHERE seq = ?", (seq,)).fetchone()
            seqs = [
                s
                for (s,) in c.execute(
                    "SELECT seq FROM social_posts WHERE root = ? AND parent IS NOT NULL"
                    " AND seq < ? ORDER BY seq DESC LIMIT ?",
                    (root, before, limit),
                )
            ]
            views = self.views(c, [root, *seqs])
        more = len(seqs) == limit
        return Thread(views[root], [views[s] for s in seqs], seq_cursor(seqs[-1]) if more else None)

    def post(self, post_id: str) -> PostDetail:
        """A post with its edit history (oldest first), reaction counts and quoted post."""
        with self.snapshot() as c:
            seq = self.post_seq(c, post_id)
            view = self.views(c, [seq])[seq]
            versions = [
                Version(bytes(i).hex(), t, s >> 20, text)
                for s, i, t, text in c.execute(
                    "SELECT seq, id, time, text FROM social_versions WHERE post = ? ORDER BY seq",
                    (seq,),
                )
            ]
            reactions = dict(
                c.execute(
                    "SELECT reaction, count(*) FROM social_reactions WHERE post = ?"
                    " GROUP BY reaction ORDER BY reaction",
                    (seq,),
                ).fetchall()
            )
            quoted = None
            if view.quote_of is not None:
                q = self.post_seq(c, view.quote_of)
                quoted = self.views(c, [q]).get(q)
        return PostDetail(view, versions, reactions, quoted)

    # --- people

    def profile(self, account: str, viewer: str | None = None) -> Profile:
        with self.snapshot() as c:
            aid, key = self.account_id(c, account)
            row = c.execute(
                "SELECT handle, name, bio, avatar, posts, followers, following, since"
                " FROM social_accounts WHERE id = ?",
                (aid,),
            ).fetchone()
            rel = None
            if viewer is not None:
                vid, vkey = self.account_id(c, viewer)
                rel = self._relation(c, vid, vkey, aid, key)
        h, name, bio, avatar, posts, followers, following, since = row
        return Profile(
            key.hex(), h, name, bio, avatar, posts, followers, following, since >> 20, rel
        )

    def _relation(
        self, c: sqlite3.Connection, vid: int, vkey: bytes, aid: int, key: bytes
    ) -> Relation:
        def kv(k: bytes) -> bool:
            q = "SELECT 1 FROM state_now WHERE key = ?"
            return c.execute(q, (b"social/" + k,)).fetchone() is not None

        return Relation(
            following=kv(b"f/" + vkey + key),
            followed_by=kv(b"f/" + key + vkey),
            muted=kv(b"m/" + vkey + key),
            blocked=kv(b"b/" + vkey + key),
            blocked_by=kv(b"b/" + key + vkey),
        )

    def _follows(self, account: str, cursor: str | None, limit: int, col: str) -> AccountPage:
        limit, before = clamp(limit), _before(cursor)
        other = "follower" if col == "followee" else "followee"
        with self.snapshot() as c:
            aid, _ = self.account_id(c, account)
            rows = c.execute(
                f"SELECT f.seq, a.key, a.handle, a.name, a.bio FROM social_follows f"
                f" JOIN social_accounts a ON a.id = f.{other}"
                f" WHERE f.{col} = ? AND f.seq < ? ORDER BY f.seq DESC LIMIT ?",
                (aid, before, limit),
            ).fetchall()
        items = [
            AccountItem(seq_cursor(s), AccountRef(bytes(k).hex(), h), n, b)
            for s, k, h, n, b in rows
        ]
        return AccountPage(items, items[-1].cursor if len(items) == limit else None)

    def followers(self, account: str, cursor: str | None = None, limit: int = 50) -> AccountPage:
        return self._follows(account, cursor, limit, "followee")

    def following(self, account: str, cursor: str | None = None, limit: int = 50) -> AccountPage:
        return self._follows(account, cursor, limit, "follower")

    # --- notifications

    def notification_rows(
        self, c: sqlite3.Connection, aid: int, after: int | None, before: int, limit: int
    ) -> list[Any]:
        hidden = self.hidden(c, aid)
        if after is None:
            q = _NOTIFS.format(op="<", hidden=_marks(len(hidden)), order="DESC")
            return c.execute(q, (*tiers.NOTES.args(aid, before, *hidden), limit)).fetchall()
        q = _NOTIFS.format(op=">", hidden=_marks(len(hidden)), order="ASC")
        return c.execute(q, (*tiers.NOTES.args(aid, after, *hidden), limit)).fetchall()

    def notifications(
        self, account: str, cursor: str | None = None, limit: int = 50
    ) -> NotificationPage:
        """Mentions, replies, quotes, reposts, reactions and follows, newest first; none
        from accounts the recipient muted or blocked, none about deleted posts."""
        limit = clamp(limit)
        before = (MAX_SEQ + 1) << 8 if cursor is None else parse_nid(cursor)
        with self.snapshot() as c:
            aid, key = self.account_id(c, account)
            rows = self.notification_rows(c, aid, None, before, limit)
        items = [notification(r, key) for r in rows]
        return NotificationPage(items, items[-1].cursor if len(items) == limit else None)
