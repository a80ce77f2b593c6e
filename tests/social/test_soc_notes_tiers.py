"""Notifications in two tiers (batch.NOTES_MERGE_BLOCKS): pages, cursors and undoing read
and remove rows in either tier exactly as with one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from social_util import Net

from agora.social import batch
from agora.social import bodies as b
from agora.social.service import SocialReader


def _pages(r: SocialReader, who: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    cursor = None
    for _ in range(20):
        page = r.notifications(who, cursor, 2)
        out += [(x.kind, x.actor.handle, x.post, x.subject, x.cursor) for x in page.items]
        cursor = page.cursor
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


def _story(tmp_path: Path, name: str) -> tuple[list[list[tuple[Any, ...]]], set[tuple[int, int]]]:
    n = Net(tmp_path / f"{name}.sqlite")
    r = SocialReader.open(n.path, n.genesis)
    seen: list[list[tuple[Any, ...]]] = []
    tiers: set[tuple[int, int]] = set()

    def step(who: int, kind: str, body: Any) -> bytes:
        h = n.do(who, kind, body)[0]
        seen.append(_pages(r, "alice"))
        q = "SELECT (SELECT count(*) FROM social_notifications),"
        q += " (SELECT count(*) FROM social_notifications_new)"
        tiers.add(n.chain.store.conn.execute(q).fetchone())
        return h

    try:
        for i, h in enumerate(("alice", "bob", "carol", "dave")):
            step(i, "handle_register", b.HandleRegister(h))
        p = step(0, "post", b.Post(b"hello"))
        reply = step(1, "post", b.Post(b"hi @alice", reply_to=p))
        step(2, "react", b.React(p, "like"))
        step(3, "follow", b.Target(n.key(0)))
        step(1, "post", b.Post(b"about @alice"))
        step(2, "repost", b.PostRef(p))
        step(3, "react", b.React(p, "👍"))
        step(2, "unreact", b.PostRef(p))  # a notification from a few blocks back
        step(1, "delete", b.PostRef(reply))  # the reply's notification goes with it
        step(3, "unreact", b.PostRef(p))  # one from the block before
        step(2, "unrepost", b.PostRef(p))
    finally:
        r.close()
        n.close()
    return seen, tiers


def test_two_tiers_page_like_one_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "NOTES_MERGE_BLOCKS", 10**9)
    one, tiers_one = _story(tmp_path, "one")
    assert all(old == 0 for old, _ in tiers_one)
    monkeypatch.setattr(batch, "NOTES_MERGE_BLOCKS", 2)
    two, tiers_two = _story(tmp_path, "two")
    assert two == one
    assert any(old and new for old, new in tiers_two)  # both tiers in use at once
    assert [k for k, *_ in one[-1]] == ["mention", "follow"]  # the rest undone
