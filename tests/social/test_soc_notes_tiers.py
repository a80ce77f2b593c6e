"""Notifications and hashtags in two tiers (tiers.py): pages, cursors and undoing read and
remove rows in either tier exactly as with one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from social_util import Net

from agora.social import bodies as b
from agora.social import tiers
from agora.social.service import SocialReader


def _pages(r: SocialReader, who: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    cursor = None
    for _ in range(20):
        page = r.notifications(who, cursor, 2)
        out += [(x.kind, x.actor.handle, x.post, x.subject, x.cursor) for x in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    else:
        raise AssertionError("paging did not end")
    for _ in range(20):
        tagged = r.hashtag("x", cursor, 2)
        out += [("#x", p.id, p.text, p.cursor) for p in tagged.items]
        cursor = tagged.cursor
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


Pages = list[list[tuple[Any, ...]]]
Counts = set[tuple[int, int, int, int]]  # rows: notifications old, new; tags old, new


def _story(tmp_path: Path, name: str) -> tuple[Pages, Counts]:
    n = Net(tmp_path / f"{name}.sqlite")
    r = SocialReader.open(n.path, n.genesis)
    seen: Pages = []
    tiers: Counts = set()

    def step(who: int, kind: str, body: Any) -> bytes:
        h = n.do(who, kind, body)[0]
        seen.append(_pages(r, "alice"))
        q = "SELECT (SELECT count(*) FROM social_notifications),"
        q += " (SELECT count(*) FROM social_notifications_new)"
        q += " , (SELECT count(*) FROM social_tags), (SELECT count(*) FROM social_tags_new)"
        tiers.add(n.chain.store.conn.execute(q).fetchone())
        return h

    try:
        for i, h in enumerate(("alice", "bob", "carol", "dave")):
            step(i, "handle_register", b.HandleRegister(h))
        p = step(0, "post", b.Post(b"hello #x"))
        tagged = [step(i % 3, "post", b.Post(f"#x number {i}".encode())) for i in range(5)]
        step(0, "edit", b.Edit(tagged[0], b"no tag now"))
        step(1, "delete", b.PostRef(tagged[1]))
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
    monkeypatch.setattr(tiers, "MERGE_BLOCKS", 10**9)
    one, tiers_one = _story(tmp_path, "one")
    assert all(notes == tags == 0 for notes, _, tags, _ in tiers_one)
    monkeypatch.setattr(tiers, "MERGE_BLOCKS", 2)
    two, tiers_two = _story(tmp_path, "two")
    assert two == one
    # Both tiers in use at once, for both tables.
    assert any(n_old and n_new for n_old, n_new, _, _ in tiers_two)
    assert any(t_old and t_new for _, _, t_old, t_new in tiers_two)
    assert [k for k, *_ in one[-1]] == ["mention", "follow", "#x", "#x", "#x", "#x"]
