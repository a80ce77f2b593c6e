"""Subscriptions: a feed's (or an account's) new posts and an account's notifications.

Each resumes from a cursor with no gap and no duplicate (agora/rpc/subscriptions.py):
the past comes from the index (`backfill`), the future from the events the module
emitted while executing a block (`publish`, called by the node once the block is
committed). `matches` decides which live items a subscription gets; it reads the
follow and mute lists at most once per block per subscribed account.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from agora.blockchain.chain import CommitResult
from agora.errors import RemoteError
from agora.rpc.messages import Publisher
from agora.rpc.subscriptions import Topic
from agora.social.cursor import nid_cursor, parse_nid, parse_seq, seq_cursor
from agora.social.queries import notification
from agora.social.reader import HEX_KEY
from agora.social.service import SocialReader
from agora.social.views import AccountRef, NotificationEvent, PostEvent

POSTS = "social.posts"
NOTIFICATIONS = "social.notifications"


def publish(publisher: Publisher, result: CommitResult) -> int:
    """Announce a committed block's new posts and notifications; never blocks."""
    n = 0
    for ev in result.events:
        if ev.module != "social":
            continue
        if ev.name == "post":
            publisher.publish(POSTS, ev.data["seq"], ev.data["item"])
            n += 1
        elif ev.name == "notification":
            publisher.publish(NOTIFICATIONS, ev.data["nid"], ev.data["item"])
            n += 1
    return n


class SubscribeFeed(msgspec.Struct, frozen=True):
    """`account`'s home feed (who it follows, and itself, less what it muted or blocked).
    `cursor`: the last item the client has (from a page or a notification)."""

    account: str
    cursor: str | None = None


class SubscribePosts(msgspec.Struct, frozen=True):
    """New posts and reposts by `account`, or by everyone when it is omitted."""

    account: str | None = None
    cursor: str | None = None


class SubscribeNotifications(msgspec.Struct, frozen=True):
    account: str
    cursor: str | None = None


_EVENTS = (
    "SELECT p.seq, p.kind, p.id, a.key, a.handle, p.time, p.text, pp.id, q.id, qa.key,"
    " qa.handle FROM social_posts p JOIN social_accounts a ON a.id = p.author"
    " LEFT JOIN social_posts pp ON pp.seq = p.parent"
    " LEFT JOIN social_posts q ON q.seq = p.quote"
    " LEFT JOIN social_accounts qa ON qa.id = q.author"
    " WHERE p.seq > ? AND {author} AND p.deleted = 0"
    " AND (p.kind = 0 OR (q.deleted = 0 AND q.author NOT IN ({hidden})))"
    " ORDER BY p.seq LIMIT ?"
)


def post_event(r: Any) -> PostEvent:
    seq, kind, me = r[0], r[1], AccountRef(bytes(r[3]).hex(), r[4])
    pid = bytes(r[2]).hex()
    if kind == 0:
        return PostEvent(
            "post", pid, me, r[5], seq >> 20, pid, me, r[6],
            None if r[7] is None else bytes(r[7]).hex(),
            None if r[8] is None else bytes(r[8]).hex(),
        )  # fmt: skip
    target = AccountRef(bytes(r[9]).hex(), r[10])
    return PostEvent("repost", pid, me, r[5], seq >> 20, bytes(r[8]).hex(), target)


class _Who:
    """An account's key, followees and hidden accounts as of one block (for `matches`)."""

    def __init__(self, height: int, key: str, authors: frozenset[str], hidden: frozenset[str]):
        self.height, self.key, self.authors, self.hidden = height, key, authors, hidden


class _Base:
    def __init__(self, reader: SocialReader) -> None:
        self.reader = reader
        self._who: dict[str, _Who | None] = {}

    def height(self) -> int:
        return self.reader.chain.status().height

    def account(self, c: sqlite3.Connection, who: str) -> tuple[int, bytes] | None:
        """None for a key this node has not seen yet: the account may be in a block
        it has still to apply, so the subscription waits for it instead of failing."""
        try:
            return self.reader.account_id(c, who)
        except RemoteError as exc:
            if exc.code == "not_found" and HEX_KEY.fullmatch(who):
                return None
            raise

    def who(self, account: str, height: int) -> _Who | None:
        """Cached per block; None if there is no such account (yet)."""
        w = self._who.get(account)
        if w is not None and w.height == height:
            return w
        if len(self._who) > 10_000:
            self._who.clear()
        r = self.reader
        try:
            with r.snapshot() as c:
                aid, key = r.account_id(c, account)
                w = _Who(height, key.hex(), self._keys(c, r.followees(c, aid)),
                         self._keys(c, r.hidden(c, aid)))  # fmt: skip
        except RemoteError:  # not an account (yet): nothing matches
            w = None
        self._who[account] = w
        return w

    @staticmethod
    def _keys(c: sqlite3.Connection, ids: list[int]) -> frozenset[str]:
        if not ids:
            return frozenset()
        q = f"SELECT key FROM social_accounts WHERE id IN ({','.join('?' * len(ids))})"
        return frozenset(bytes(k).hex() for (k,) in c.execute(q, ids))


class PostsSource(_Base):
    """Both the feed topic and the posts topic (`feed` says which)."""

    def __init__(self, reader: SocialReader, feed: bool) -> None:
        super().__init__(reader)
        self.feed = feed

    def head(self, params: Any) -> int:
        return self.height() << 20 | 0xFFFFF

    def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
        r = self.reader
        with r.snapshot() as c:
            hidden: list[int] = []
            if params.account is None:
                author, args = "1", []
            else:
                found = self.account(c, params.account)
                if found is None:
                    return []
                aid = found[0]
                if self.feed:
                    hidden = r.hidden(c, aid)
                    skip = set(hidden)
                    ids = sorted(a for a in {*r.followees(c, aid), aid} if a not in skip)
                    author, args = f"+p.author IN ({','.join('?' * len(ids))})", ids
                else:
                    author, args = "p.author = ?", [aid]
            q = _EVENTS.format(author=author, hidden=",".join("?" * len(hidden)))
            rows = c.execute(q, (after, *args, *hidden, limit)).fetchall()
        return [(row[0], post_event(row)) for row in rows]

    def matches(self, params: Any, item: Any) -> bool:
        if params.account is None:
            return True
        w = self.who(params.account, item.height)
        if w is None:
            return False
        author = item.author.key
        if not self.feed:
            return bool(author == w.key)
        if author != w.key and author not in w.authors:
            return False
        return author not in w.hidden and item.post_author.key not in w.hidden


class NotificationsSource(_Base):
    def head(self, params: Any) -> int:
        return (self.height() << 20 | 0xFFFFF) << 8 | 0xFF

    def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
        r = self.reader
        with r.snapshot() as c:
            found = self.account(c, params.account)
            if found is None:
                return []
            aid, key = found
            rows = r.notification_rows(c, aid, after, 0, limit)
        out = []
        for row in rows:
            n = notification(row, key)
            fields = {f: getattr(n, f) for f in NotificationEvent.__struct_fields__}
            out.append((int(row[0]), NotificationEvent(**fields)))
        return out

    def matches(self, params: Any, item: Any) -> bool:
        w = self.who(params.account, item.height)
        return w is not None and item.recipient == w.key and item.actor.key not in w.hidden


def topics(reader: SocialReader) -> list[Topic]:
    return [
        Topic(
            "social_subscribeFeed", POSTS, SubscribeFeed, PostEvent,
            PostsSource(reader, feed=True),
            summary="An account's home feed: new posts and reposts, resumable by cursor",
            encode_cursor=seq_cursor, decode_cursor=parse_seq,
        ),
        Topic(
            "social_subscribePosts", POSTS, SubscribePosts, PostEvent,
            PostsSource(reader, feed=False),
            summary="New posts and reposts by one account, or by everyone",
            encode_cursor=seq_cursor, decode_cursor=parse_seq,
        ),
        Topic(
            "social_subscribeNotifications", NOTIFICATIONS, SubscribeNotifications,
            NotificationEvent, NotificationsSource(reader),
            summary="An account's new notifications, resumable by cursor",
            encode_cursor=nid_cursor, decode_cursor=parse_nid,
        ),
    ]  # fmt: skip
