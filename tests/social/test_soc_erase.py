"""Deletes: the erased text leaves the database and WAL files, and a node that syncs the
blocks afterwards (bodies already erased) reaches the same root and the same index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from social_util import Net

from agora.blockchain.chain import Chain
from agora.blockchain.reader import Reader
from agora.social import bodies as b
from agora.social.module import SocialModule
from agora.social.service import SocialReader

SECRET = "qzvbxsecretword"
TAG = "qzvbxtag"
EDITED = "qzvbxeditedword"


def raw_files(path: Path) -> dict[str, bytes]:
    out = {}
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        out[suffix or "db"] = p.read_bytes() if p.exists() else b""
    return out


def present(path: Path, word: str) -> list[str]:
    w = word.encode()
    return [name for name, data in raw_files(path).items() if w in data]


def test_deleted_bytes_leave_db_and_wal(net: Net, reader: SocialReader) -> None:
    n = net
    n.handle(0, "alice")
    # Other traffic around it, so that the words share FTS segments and pages with others.
    n.block(*(n.tx(1 + i % 3, "post", b.Post(f"filler {i} #common".encode())) for i in range(40)))
    p = n.post(0, f"{SECRET} is here #{TAG}")
    n.do(0, "edit", b.Edit(p, f"now {EDITED} #{TAG}".encode()))
    n.block(*(n.tx(1 + i % 3, "post", b.Post(f"more {i}".encode())) for i in range(40)))
    assert reader.search_posts(SECRET).items == []  # replaced by the edit
    assert [x.id for x in reader.search_posts(EDITED).items] == [p.hex()]
    for word in (SECRET, TAG, EDITED):
        assert present(n.path, word), word  # the test can fail: the bytes are there now
    _, r = n.do(0, "delete", b.PostRef(p))
    assert r.erased == 2
    for word in (SECRET, TAG, EDITED):
        assert present(n.path, word) == [], word
    assert reader.search_posts("filler").items  # the shard still works after 'optimize'
    assert reader.search_posts(EDITED).items == [] and reader.hashtag(TAG).items == []


def scenario(n: Net) -> list[bytes]:
    """Posts, replies, quotes, edits, reactions, reposts, follows, mutes, blocks, deletes."""
    for i, h in enumerate(["alice", "bob", "carol", "dave"]):
        n.handle(i, h)
    n.target(1, "follow", 0)
    n.target(2, "follow", 0)
    n.target(0, "follow", 2)
    p = n.post(0, "alice #one @bob")
    r1 = n.post(1, "bob replies #two", reply_to=p)
    r2 = n.post(2, "carol replies to bob @alice", reply_to=r1)
    q = n.post(3, "dave quotes #one", quote_of=p)
    n.do(0, "edit", b.Edit(p, b"alice edited #three @carol"))
    n.do(1, "react", b.React(p, "like"))
    n.do(2, "react", b.React(r1, "🔥"))
    n.do(3, "repost", b.PostRef(p))
    n.do(3, "repost", b.PostRef(r1))
    n.target(0, "mute", 3)
    n.target(2, "block", 3)
    gone = n.post(1, "posted and deleted in one go")
    n.block(
        n.tx(1, "edit", b.Edit(gone, b"edited in the same block")),
        n.tx(1, "delete", b.PostRef(gone)),
    )
    n.do(1, "delete", b.PostRef(r1))  # r2 now roots its own thread
    n.do(0, "delete", b.PostRef(p))  # the quote and reposts of it stay, its edit is erased
    n.post(2, "after the deletes #one", reply_to=r2)
    n.do(1, "react", b.React(q, "like"))
    n.do(2, "unreact", b.PostRef(r1))
    return [p, r1, r2, q, gone]


TABLES = {
    "social_accounts": "id",
    "social_posts": "seq",
    "social_versions": "post, seq",
    "social_follows": "follower, seq",
    "social_hides": "owner, target, kind",
    "social_reactions": "post, account",
    "social_notifications": "id",
    "social_tags": "tag, seq",
    "social_tag_totals": "tag",
    "social_tag_hours": "hour, tag",
}


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    c = sqlite3.connect(path)
    try:
        return {
            t: c.execute(f"SELECT * FROM {t} ORDER BY {o}").fetchall() for t, o in TABLES.items()
        }
    finally:
        c.close()


def test_a_node_syncing_erased_blocks_reaches_the_same_root_and_index(tmp_path: Path) -> None:
    a = Net(tmp_path / "a.sqlite")
    ids = scenario(a)
    src = Reader.open(a.path)
    b_path = tmp_path / "b.sqlite"
    b_chain = Chain.open(b_path, a.genesis, [SocialModule()], synchronous="NORMAL")
    try:
        erased_seen = 0
        for h in range(1, a.chain.height + 1):
            block, commit = src.get_block(h), src.get_commit(h)
            assert block is not None and commit is not None
            erased_seen += sum(tx.body is None for tx in block.txs)
            res = b_chain.commit_block(block, commit)
            assert res.state_root == (
                src.get_block(h + 1).header.state_root if h < a.chain.height else a.chain.state_root
            )  # type: ignore[union-attr]
        assert erased_seen == 5  # p and its edit, r1, gone and its edit
        assert b_chain.state_root == a.chain.state_root
    finally:
        b_chain.close()
        src.close()
    a.close()
    da, db = dump(a.path), dump(b_path)
    for t in TABLES:
        assert da[t] == db[t], t
    ra, rb = SocialReader.open(a.path, a.genesis), SocialReader.open(b_path, a.genesis)
    try:
        for who in ("alice", "bob", "carol", "dave"):
            assert ra.feed(who) == rb.feed(who)
            assert ra.notifications(who) == rb.notifications(who)
            assert ra.profile(who) == rb.profile(who)
        for pid in ids:
            assert ra.thread(pid.hex()) == rb.thread(pid.hex())
            assert ra.post(pid.hex()) == rb.post(pid.hex())
        for word in ("alice", "replies", "one", "deletes", "edited"):
            assert ra.search_posts(word) == rb.search_posts(word)
        assert ra.trending() == rb.trending()
        assert ra.search_tags("t") == rb.search_tags("t")
    finally:
        ra.close()
        rb.close()
