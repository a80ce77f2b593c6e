"""Every social kind against a real chain: what it changes, and every refusal code."""

from __future__ import annotations

from pathlib import Path

import pytest
from social_util import Net

from agora.blockchain.genesis import Params
from agora.blockchain.tx import make_tx
from agora.codec import encode
from agora.social import bodies as b
from agora.social import state as st
from agora.social.service import SocialReader


def kv(net: Net, key: bytes) -> bytes | None:
    return net.chain.view().get("social", key)


def test_handles_register_and_transfer(people: Net, reader: SocialReader) -> None:
    assert kv(people, st.handle_key("alice")) == people.key(0)
    assert kv(people, st.name_key(people.key(0))) == b"alice"
    # The fee went to the proposer with the envelope: registering costs 100.
    assert reader.account_state("@alice").balance == 1_000_000 - 100
    people.do(0, "handle_transfer", b.HandleTransfer("alice", people.key(4)))
    assert kv(people, st.handle_key("alice")) == people.key(4)
    assert kv(people, st.name_key(people.key(0))) is None
    assert reader.profile("@alice").key == people.key(4).hex()
    assert reader.profile(people.key(0).hex()).handle is None
    assert reader.search_profiles("alice").items[0].account.key == people.key(4).hex()
    # The old owner may register a new handle now.
    people.handle(0, "alice2")
    assert reader.profile("alice2").key == people.key(0).hex()


def test_profile_set_and_search(people: Net, reader: SocialReader) -> None:
    people.do(1, "profile_set", b.ProfileSet("Bob Été".encode(), b"Bakes bread\nin Lyon", b""))
    p = reader.profile("@bob")
    assert (p.name, p.bio, p.avatar_url) == ("Bob Été", "Bakes bread\nin Lyon", "")
    assert [i.account.handle for i in reader.search_profiles("ete").items] == ["bob"]
    people.do(1, "profile_set", b.ProfileSet(b"Robert", b"Bakes cakes", b"https://e.x/a.png"))
    assert reader.search_profiles("lyon").items == []  # the old bio left the index
    assert [i.account.handle for i in reader.search_profiles("cakes").items] == ["bob"]
    assert reader.profile("bob").avatar_url == "https://e.x/a.png"


def test_post_reply_quote_counts_and_notifications(people: Net, reader: SocialReader) -> None:
    p = people.post(0, "hello #Agora @bob @nobody")
    r = people.post(1, "hi alice", reply_to=p)
    q = people.post(2, "look @alice", quote_of=p)
    view = reader.post(p.hex()).post
    assert (view.replies, view.quotes, view.text) == (1, 1, "hello #Agora @bob @nobody")
    assert reader.post(r.hex()).post.reply_to == p.hex()
    assert reader.post(q.hex()).post.quote_of == p.hex()
    assert [t.tag for t in reader.search_tags("ag").items] == ["agora"]
    kinds = [(n.kind, n.actor.handle) for n in reader.notifications("@alice").items]
    # carol quoted AND mentioned alice: one notification (the quote).
    assert kinds == [("quote", "carol"), ("reply", "bob")]
    assert [(n.kind, n.post) for n in reader.notifications("@bob").items] == [("mention", p.hex())]
    assert reader.profile("alice").posts == 1


def test_repost_react_and_undo(people: Net, reader: SocialReader) -> None:
    p = people.post(0, "react to me")
    people.do(1, "react", b.React(p, "like"))
    people.do(2, "react", b.React(p, "🎉"))
    people.do(1, "repost", b.PostRef(p))
    d = reader.post(p.hex())
    assert (d.post.reactions, d.post.reposts, d.reactions) == (2, 1, {"like": 1, "🎉": 1})
    assert st.seq_from(kv(people, st.reaction_key(p, people.key(1))) or b"") > 0
    assert [n.kind for n in reader.notifications("alice").items] == [
        "repost",
        "reaction",
        "reaction",
    ]
    people.do(1, "unreact", b.PostRef(p))
    people.do(1, "unrepost", b.PostRef(p))
    d = reader.post(p.hex())
    assert (d.post.reactions, d.post.reposts, d.reactions) == (1, 0, {"🎉": 1})
    assert [(n.kind, n.actor.handle) for n in reader.notifications("alice").items] == [
        ("reaction", "carol")
    ]
    assert [i.kind for i in reader.posts("@bob").items] == []
    # Undone, it can be done again.
    people.do(1, "react", b.React(p, "👍"))
    assert reader.post(p.hex()).reactions == {"👍": 1, "🎉": 1}


def test_follow_unfollow_mute_block(people: Net, reader: SocialReader) -> None:
    people.target(1, "follow", 0)
    people.do(2, "follow", b.Target(b"", "alice"))  # by handle
    assert (reader.profile("alice").followers, reader.profile("bob").following) == (2, 1)
    assert [i.account.handle for i in reader.followers("alice").items] == ["carol", "bob"]
    assert [n.kind for n in reader.notifications("alice").items] == ["follow", "follow"]
    people.target(1, "unfollow", 0)
    assert reader.profile("alice").followers == 1
    assert kv(people, st.follow_key(people.key(1), people.key(0))) is None
    people.target(0, "mute", 3)
    assert kv(people, st.mute_key(people.key(0), people.key(3))) == b""
    people.target(0, "unmute", 3)
    assert kv(people, st.mute_key(people.key(0), people.key(3))) is None
    # A block ends the follows both ways.
    people.target(0, "follow", 2)
    people.target(0, "block", 2)
    assert kv(people, st.follow_key(people.key(2), people.key(0))) is None
    assert kv(people, st.follow_key(people.key(0), people.key(2))) is None
    assert (reader.profile("alice").followers, reader.profile("alice").following) == (0, 0)
    rel = reader.profile("carol", viewer="alice").relation
    assert rel is not None and rel.blocked and not rel.following
    people.target(0, "unblock", 2)
    assert kv(people, st.block_key(people.key(0), people.key(2))) is None


def test_edit_keeps_history(people: Net, reader: SocialReader) -> None:
    p = people.post(0, "first #one")
    e1, _ = people.do(0, "edit", b.Edit(p, b"second #two"))
    e2, _ = people.do(0, "edit", b.Edit(p, b"third #two #three"))
    d = reader.post(p.hex())
    assert d.post.text == "third #two #three" and d.post.edits == 2
    assert [(v.id, v.text) for v in d.versions] == [
        (p.hex(), "first #one"),
        (e1.hex(), "second #two"),
        (e2.hex(), "third #two #three"),
    ]
    assert reader.search_posts("first").items == []
    assert [x.id for x in reader.search_posts("third").items] == [p.hex()]
    assert reader.hashtag("one").items == []
    assert [t.tag for t in reader.trending().items] == ["three", "two"]


def test_delete_erases_text_links_and_derived_rows(people: Net, reader: SocialReader) -> None:
    parent = people.post(1, "the parent")
    p = people.post(0, "zqx words #hidden @carol", reply_to=parent)
    e, _ = people.do(0, "edit", b.Edit(p, b"zqx edited #hidden @carol"))
    child = people.post(2, "a reply to the secret", reply_to=p)
    people.do(3, "react", b.React(p, "like"))
    _, res = people.do(0, "delete", b.PostRef(p))
    assert res.erased == 2  # the post and its edit
    assert kv(people, st.post_key(p)) == st.dump_post(
        st.PostState(people.key(0), p_seq(p, people), True)
    )
    v = reader.post(p.hex())
    assert (v.post.text, v.post.deleted, v.post.reply_to, v.versions) == (None, True, None, [])
    assert reader.post(parent.hex()).post.replies == 0
    assert reader.search_posts("zqx").items == []
    assert reader.hashtag("hidden").items == [] and reader.trending().items == []
    assert [n.kind for n in reader.notifications("carol").items] == []  # the mention is gone
    assert [n.kind for n in reader.notifications("bob").items] == []  # and the reply
    # Its replies now form their own thread, rooted at the deleted post.
    t = reader.thread(child.hex())
    assert t.root.id == p.hex() and [x.id for x in t.items] == [child.hex()]
    assert [x.id for x in reader.thread(parent.hex()).items] == []
    assert reader.profile("alice").posts == 0
    for h in (p, e):
        info = reader.chain.get_tx(h)
        assert info is not None and info.tx.body is None


def p_seq(h: bytes, net: Net) -> int:
    p = st.load_post(kv(net, st.post_key(h)))
    assert p is not None
    return p.seq


def refused(net: Net, who: int, kind: str, body: object) -> str:
    root, n = net.chain.state_root, len(net.chain.mempool)
    code = net.refused(who, kind, body).code
    assert (net.chain.state_root, len(net.chain.mempool)) == (root, n)
    return code


def test_bad_input_codes(people: Net) -> None:
    n = people
    p = n.post(0, "a post")
    n.target(0, "block", 3)
    cases: list[tuple[int, str, object, str]] = [
        (1, "post", b.Post(b"x" * 281), "post_too_long"),
        (1, "post", b.Post("é".encode() * 281), "post_too_long"),
        (1, "post", b.Post(b"caf\xc3"), "invalid_utf8"),
        (1, "post", b.Post(b"\xff\xfe"), "invalid_utf8"),
        (1, "post", b.Post(b"bell\x07"), "control_characters"),
        (1, "post", b.Post(b"c1 \xc2\x85"), "control_characters"),
        (1, "post", b.Post(b"  \n "), "empty_post"),
        (1, "post", b.Post(b"hi", reply_to=b"\x01" * 32), "unknown_post"),
        (1, "handle_register", b.HandleRegister("Bob_2"), "bad_handle"),
        (1, "handle_register", b.HandleRegister("ab"), "bad_handle"),
        (4, "handle_register", b.HandleRegister("alice"), "handle_taken"),
        (1, "handle_register", b.HandleRegister("bobby"), "has_handle"),
        (1, "handle_transfer", b.HandleTransfer("nobody", n.key(4)), "unknown_handle"),
        (1, "handle_transfer", b.HandleTransfer("alice", n.key(4)), "not_owner"),
        (1, "handle_transfer", b.HandleTransfer("bob", n.key(2)), "has_handle"),
        (1, "follow", b.Target(b"", "nobody"), "unknown_handle"),
        (1, "follow", b.Target(b"\x07" * 32), "unknown_account"),
        (1, "follow", b.Target(b"\x07" * 31), "bad_target"),
        (1, "follow", b.Target(n.key(1)), "follow_self"),
        (1, "unfollow", b.Target(n.key(0)), "not_following"),
        (1, "mute", b.Target(n.key(1)), "self_target"),
        (1, "unmute", b.Target(n.key(0)), "not_muted"),
        (0, "block", b.Target(n.key(3)), "already_blocked"),
        (1, "unblock", b.Target(n.key(0)), "not_blocked"),
        (1, "edit", b.Edit(p, b"mine now"), "not_author"),
        (1, "delete", b.PostRef(p), "not_author"),
        (1, "react", b.React(p, "lol"), "bad_reaction"),
        (1, "unreact", b.PostRef(p), "not_reacted"),
        (1, "unrepost", b.PostRef(p), "not_reposted"),
        (3, "post", b.Post(b"re", reply_to=p), "blocked"),
        (3, "post", b.Post(b"hey @alice"), "blocked"),
        (3, "post", b.Post(b"q", quote_of=p), "blocked"),
        (3, "react", b.React(p, "like"), "blocked"),
        (3, "repost", b.PostRef(p), "blocked"),
        (3, "follow", b.Target(n.key(0)), "blocked"),
        (0, "follow", b.Target(n.key(3)), "blocked"),
        (1, "profile_set", b.ProfileSet(b"x" * 51, b"", b""), "field_too_long"),
        (1, "profile_set", b.ProfileSet(b"two\nlines", b"", b""), "control_characters"),
        (1, "profile_set", b.ProfileSet(b"", b"", b"javascript:x"), "bad_url"),
        (1, "profile_set", b.ProfileSet(b"", b"\xc0", b""), "invalid_utf8"),
    ]
    got = [refused(n, who, kind, body) for who, kind, body, _ in cases]
    assert got == [code for *_, code in cases]
    # The handle fee, and a post that is deleted.
    tx = make_tx(n.users[4], "agora-test", 1, "handle_register", encode(b.HandleRegister("eve")))
    with pytest.raises(Exception) as exc:
        n.chain.mempool.add(tx)
    assert getattr(exc.value, "code", "") == "handle_fee"
    n.do(1, "react", b.React(p, "like"))
    n.do(1, "repost", b.PostRef(p))
    assert refused(n, 1, "react", b.React(p, "❤️")) == "already_reacted"
    assert refused(n, 1, "repost", b.PostRef(p)) == "already_reposted"
    n.target(1, "follow", 0)
    assert refused(n, 1, "follow", b.Target(n.key(0))) == "already_following"
    n.target(1, "mute", 2)
    assert refused(n, 1, "mute", b.Target(n.key(2))) == "already_muted"
    n.do(0, "delete", b.PostRef(p))
    for who, kind, body in (
        (2, "react", b.React(p, "like")),
        (2, "post", b.Post(b"re", reply_to=p)),
        (2, "repost", b.PostRef(p)),
        (0, "edit", b.Edit(p, b"again")),
        (0, "delete", b.PostRef(p)),
    ):
        assert refused(n, who, kind, body) == "post_deleted", kind
    # Undoing a reaction to a deleted post is allowed.
    n.do(1, "unreact", b.PostRef(p))


def test_invalid_utf8_in_an_identifier_is_bad_body(people: Net) -> None:
    raw = b"\x91\xa3a\xffb"  # [str "a\xffb"]: not UTF-8 inside a msgpack str
    tx = make_tx(people.users[4], "agora-test", 1, "handle_register", raw, fee=100)
    with pytest.raises(Exception) as exc:
        people.chain.mempool.add(tx)
    assert getattr(exc.value, "code", "") == "bad_body"
    assert "undecodable" in str(exc.value) or "utf-8" in str(exc.value).lower()


def test_over_quota(tmp_path: Path) -> None:
    n = Net(
        tmp_path / "q.sqlite", params=Params(quota_base=3, quota_max=3, quota_balance_step=10**9)
    )
    try:
        n.block(*(n.tx(0, "post", b.Post(f"p{i}".encode())) for i in range(3)))
        e = n.refused(0, "post", b.Post(b"one too many"))
        assert e.code == "over_quota"
        # handle_register costs 10 actions: never within a quota of 3.
        assert n.refused(1, "handle_register", b.HandleRegister("bob")).code == "over_quota"
    finally:
        n.close()


def test_conflicts_in_one_block_fail_at_execution(people: Net, reader: SocialReader) -> None:
    """Both pass the mempool (against the last block); the second fails in the block, its
    fee and nonce stay charged, and nothing of it is indexed."""
    n = people
    p = n.post(0, "target")
    r = n.block(
        n.tx(4, "handle_register", b.HandleRegister("erin")),
        n.tx(5, "handle_register", b.HandleRegister("erin")),
        n.tx(0, "delete", b.PostRef(p)),
        n.tx(1, "post", b.Post(b"too late", reply_to=p)),
    )
    assert [c for c, _ in r.results] == ["ok", "handle_taken", "ok", "post_deleted"]
    assert reader.profile("erin").key == n.key(4).hex()
    assert reader.posts("bob").items == []
    assert n.chain.view().account(n.key(1)).nonce == 2  # handle, then the failed post
    q = n.post(0, "another")
    r = n.block(
        n.tx(0, "block", b.Target(n.key(3))),
        n.tx(3, "post", b.Post(b"hi alice", reply_to=q)),
    )
    assert [c for c, _ in r.results] == ["ok", "blocked"]


def test_same_blocks_same_root(tmp_path: Path) -> None:
    """Two stores fed the same txs end at the same state root and index."""
    roots = []
    for name in ("a", "b"):
        n = Net(tmp_path / f"{name}.sqlite")
        n.handle(0, "alice")
        p = n.post(0, "#x hello")
        n.do(1, "react", b.React(p, "like"))
        roots.append(n.chain.state_root)
        n.close()
    assert roots[0] == roots[1]
