"""Every query on a real chain: contents, filters, order and cursor pagination."""

from __future__ import annotations

import pytest
from social_util import Net

from agora.errors import RemoteError
from agora.social import bodies as b
from agora.social import schema as sc
from agora.social.queries import Queries
from agora.social.service import SocialReader


def texts(page: object) -> list[str | None]:
    return [i.post.text for i in page.items]  # type: ignore[attr-defined]


def all_pages(fetch, limit: int) -> list:  # type: ignore[no-untyped-def]
    out, cursor = [], None
    for _ in range(100):
        page = fetch(cursor, limit)
        out += page.items
        cursor = page.cursor
        if cursor is None:
            return out
    raise AssertionError("no end")


def test_home_feed_follows_mutes_blocks_reposts(people: Net, reader: SocialReader) -> None:
    n = people
    for who in (1, 2, 3):
        n.target(0, "follow", who)
    n.post(1, "bob 1")
    c1 = n.post(2, "carol 1")
    n.post(3, "dave 1")
    n.post(4, "stranger")
    own = n.post(0, "alice own")
    n.do(1, "repost", b.PostRef(c1))
    assert texts(reader.feed("alice")) == ["carol 1", "alice own", "dave 1", "carol 1", "bob 1"]
    assert [i.kind for i in reader.feed("alice").items][:2] == ["repost", "post"]
    assert reader.feed("alice").items[0].by.handle == "bob"
    assert reader.feed("alice").items[1].id == own.hex()
    n.target(0, "mute", 2)  # carol's posts and reposts of them go
    assert texts(reader.feed("alice")) == ["alice own", "dave 1", "bob 1"]
    n.target(0, "unmute", 2)
    n.target(3, "block", 0)  # dave blocks alice: the follow ends, so do his posts in her feed
    assert texts(reader.feed("alice")) == ["carol 1", "alice own", "carol 1", "bob 1"]
    n.do(2, "delete", b.PostRef(c1))  # the post and the repost of it leave every feed
    assert texts(reader.feed("alice")) == ["alice own", "bob 1"]


def test_feed_pages_are_stable_while_blocks_arrive(people: Net, reader: SocialReader) -> None:
    n = people
    n.target(0, "follow", 1)
    for i in range(7):
        n.post(1, f"b{i}")
    page1 = reader.feed("alice", limit=3)
    assert texts(page1) == ["b6", "b5", "b4"] and page1.cursor is not None
    for i in range(3):
        n.post(1, f"new{i}")
    page2 = reader.feed("alice", page1.cursor, 3)
    assert texts(page2) == ["b3", "b2", "b1"]
    page3 = reader.feed("alice", page2.cursor, 3)
    assert texts(page3) == ["b0"] and page3.cursor is None


@pytest.mark.parametrize("total", [1, 10**9])
def test_feed_plans_agree(
    people: Net, reader: SocialReader, monkeypatch: pytest.MonkeyPatch, total: int
) -> None:
    """The dense (scan) and sparse (index) plans give the same pages."""
    n = people
    n.target(0, "follow", 1)
    n.target(0, "follow", 2)
    n.block(*(n.tx(i % 5, "post", b.Post(f"p{i}".encode())) for i in range(30)))
    monkeypatch.setattr(Queries, "_total_posts", lambda self, c: total)
    got = all_pages(lambda c, lim: reader.feed("alice", c, lim), 4)
    assert [i.post.text for i in got] == [f"p{i}" for i in range(29, -1, -1) if i % 5 in (0, 1, 2)]


def test_account_posts_and_thread(people: Net, reader: SocialReader) -> None:
    n = people
    root = n.post(0, "root")
    r1 = n.post(1, "r1", reply_to=root)
    r2 = n.post(2, "r2", reply_to=r1)
    r3 = n.post(3, "r3", reply_to=root)
    n.do(1, "repost", b.PostRef(root))
    assert [(i.kind, i.post.text) for i in reader.posts("bob").items] == [
        ("repost", "root"),
        ("post", "r1"),
    ]
    for start in (root, r1, r2):
        t = reader.thread(start.hex())
        assert t.root.id == root.hex()
        assert [x.text for x in t.items] == ["r3", "r2", "r1"]
    t = reader.thread(root.hex(), limit=2)
    assert [x.id for x in t.items] == [r3.hex(), r2.hex()]
    t2 = reader.thread(root.hex(), t.cursor, 2)
    assert [x.id for x in t2.items] == [r1.hex()] and t2.cursor is None
    assert reader.post(r2.hex()).post.reply_to == r1.hex()
    # Deleting r1 erases its link: r2 now starts a thread rooted at the deleted r1.
    n.do(1, "delete", b.PostRef(r1))
    assert [x.text for x in reader.thread(root.hex()).items] == ["r3"]
    t = reader.thread(r2.hex())
    assert t.root.id == r1.hex() and t.root.deleted and [x.text for x in t.items] == ["r2"]


def test_followers_following_pagination(people: Net, reader: SocialReader) -> None:
    n = people
    for who in (1, 2, 3, 4, 5):
        n.target(who, "follow", 0)
    got = all_pages(lambda c, lim: reader.followers("alice", c, lim), 2)
    assert [i.account.key for i in got] == [n.key(i).hex() for i in (5, 4, 3, 2, 1)]
    assert [i.account.handle for i in reader.following("@bob").items] == ["alice"]
    assert reader.profile("alice").followers == 5


def test_notifications_filters_and_pages(people: Net, reader: SocialReader) -> None:
    n = people
    p = n.post(0, "alice post")
    n.post(1, "hey @alice")
    n.do(2, "react", b.React(p, "like"))
    n.target(3, "follow", 0)
    n.post(3, "dave says hi @alice")
    got = all_pages(lambda c, lim: reader.notifications("alice", c, lim), 2)
    assert [(x.kind, x.actor.handle) for x in got] == [
        ("mention", "dave"),
        ("follow", "dave"),
        ("reaction", "carol"),
        ("mention", "bob"),
    ]
    n.target(0, "mute", 3)  # muted accounts leave the notifications
    assert [x.actor.handle for x in reader.notifications("alice").items] == ["carol", "bob"]
    n.do(0, "delete", b.PostRef(p))  # so do notifications about a deleted post
    assert [x.actor.handle for x in reader.notifications("alice").items] == ["bob"]


def test_search_pages_across_shards(
    people: Net, reader: SocialReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = people
    monkeypatch.setattr(sc, "SHARD_POSTS", 4)
    n.block(
        *(n.tx(i % 4, "post", b.Post(f"word{i % 3} common #t{i % 2}".encode())) for i in range(14))
    )
    n.post(1, "the last common one")
    with reader.snapshot() as c:
        assert c.execute("SELECT count(*) FROM social_fts_shards").fetchone()[0] == 4
    got = all_pages(lambda c, lim: reader.search_posts("common", c, lim), 3)
    assert len(got) == 15 and got[0].text == "the last common one"
    assert [g.cursor for g in got] == sorted(
        (g.cursor for g in got), key=lambda c: tuple(map(int, c.split("."))), reverse=True
    )
    assert len(reader.search_posts("word1 common").items) == 5
    assert reader.search_posts("nothing").items == []
    assert len(all_pages(lambda c, lim: reader.hashtag("#t0", c, lim), 2)) == 7
    assert [(t.tag, t.posts) for t in reader.search_tags("t").items] == [("t0", 7), ("t1", 7)]
    assert [t.tag for t in reader.trending(limit=1).items] == ["t0"]
    nxt = reader.trending(cursor=reader.trending(limit=1).cursor, limit=1)
    assert [t.tag for t in nxt.items] == ["t1"]


def test_bad_query_params(people: Net, reader: SocialReader) -> None:
    for call, code in (
        (lambda: reader.feed("not an account"), "bad_account"),
        (lambda: reader.feed("@nobody"), "not_found"),
        (lambda: reader.feed("alice", "garbage"), "bad_cursor"),
        (lambda: reader.notifications("alice", "1.2"), "bad_cursor"),
        (lambda: reader.thread("zz"), "bad_post_id"),
        (lambda: reader.thread("00" * 32), "not_found"),
        (lambda: reader.search_posts("!!! ???"), "bad_query"),
        (lambda: reader.trending(cursor="t.x.1"), "bad_cursor"),
        (lambda: reader.search_tags("ab", cursor="g.zz"), "bad_cursor"),
        (lambda: reader.tx_result("00" * 32), "not_found"),
    ):
        with pytest.raises(RemoteError) as e:
            call()
        assert e.value.code == code
    # FTS syntax in user text is just words.
    assert reader.search_posts('"unbalanced AND (NEAR *').items == []
