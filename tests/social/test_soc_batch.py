"""The block's batch (batch.py, `Module.end_block`): index rows written once per block
come out the same as rows written tx by tx, also when later txs of the same block
reply to, react to, edit and delete what earlier ones posted."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec
from social_util import Net

from agora.blockchain.block import Block, tx_root
from agora.blockchain.chain import CommitResult
from agora.blockchain.tx import Tx, tx_hash
from agora.social import bodies as b
from agora.social.service import SocialReader

WORDS = ("alice", "replies", "quotes", "gone", "edited", "late")


def scenario(n: Net) -> tuple[list[Tx], list[Tx]]:
    """Setup txs, then the txs under test (each valid after the ones before it)."""
    setup = [
        n.tx(i, "handle_register", b.HandleRegister(h))
        for i, h in enumerate(("anna", "bert", "cleo", "dora"))
    ]
    setup += [n.tx(1, "follow", b.Target(n.key(0))), n.tx(0, "follow", b.Target(n.key(2)))]
    txs: list[Tx] = []

    def add(who: int, kind: str, body: Any) -> bytes:
        tx = n.tx(who, kind, body)
        txs.append(tx)
        return tx_hash(tx)

    post = b.Post
    p = add(0, "post", post(b"alice #one @bert", None, None))
    r1 = add(1, "post", post(b"b replies #two #one", p, None))
    r2 = add(2, "post", post(b"c replies @anna", r1, None))
    q = add(3, "post", post(b"d quotes #one", None, p))
    add(1, "react", b.React(p, "like"))
    add(2, "react", b.React(r1, "like"))
    add(3, "repost", b.PostRef(p))
    add(0, "edit", b.Edit(p, b"alice edited #three @cleo"))
    add(2, "post", post(b"late reply #two", r2, None))
    add(1, "delete", b.PostRef(r1))  # r2 roots its own thread now
    add(1, "react", b.React(q, "like"))
    x = add(0, "post", post(b"gone soon #one", None, None))
    add(3, "post", post(b"d replies to it", x, None))
    add(0, "delete", b.PostRef(x))
    add(2, "react", b.React(p, "🔥"))
    return setup, txs


def dump(path: Path) -> dict[str, Any]:
    """The index with seqs replaced by post ids (seqs depend on how txs fall in blocks)."""
    c = sqlite3.connect(path)
    try:
        ids = {s: bytes(i) for s, i in c.execute("SELECT seq, id FROM social_posts")}
        keys = {a: bytes(k) for a, k in c.execute("SELECT id, key FROM social_accounts")}

        def pid(s: int | None) -> bytes | None:
            return None if s is None else ids[s]

        posts = sorted(
            (bytes(i), keys[a], k, t, pid(p), pid(qq), pid(r), d, e, n1, n2, n3, n4)
            for i, a, k, t, p, qq, r, d, e, n1, n2, n3, n4 in c.execute(
                "SELECT id, author, kind, text, parent, quote, root, deleted, edits, replies,"
                " reposts, quotes, reactions FROM social_posts"
            )
        )
        accounts = sorted(
            (bytes(k), h, n1, n2, n3)
            for k, h, n1, n2, n3 in c.execute(
                "SELECT key, handle, posts, followers, following FROM social_accounts"
            )
        )
        reactions = sorted(
            (ids[p], keys[a], r)
            for p, a, r in c.execute("SELECT post, account, reaction FROM social_reactions")
        )
        notes = sorted(
            (keys[r], k, keys[a], pid(s))
            for r, k, a, s in c.execute(
                "SELECT recipient, kind, actor, subject FROM social_notifications"
            )
        )
        tags = sorted((t, ids[s]) for t, s in c.execute("SELECT tag, seq FROM social_tags"))
        totals = sorted(c.execute("SELECT tag, n FROM social_tag_totals"))
        hours = sorted(c.execute("SELECT tag, sum(n) FROM social_tag_hours GROUP BY tag"))
    finally:
        c.close()
    return {
        "posts": posts,
        "accounts": accounts,
        "reactions": reactions,
        "notes": notes,
        "tags": tags,
        "totals": totals,
        "hours": hours,
    }


def searches(n: Net) -> dict[str, list[str]]:
    r = SocialReader.open(n.path, n.genesis)
    try:
        return {w: sorted(p.id for p in r.search_posts(w).items) for w in WORDS}
    finally:
        r.close()


def one_block(n: Net, txs: list[Tx]) -> CommitResult:
    """A block of txs that depend on each other (a mempool admits none of them before
    the earlier ones are committed, but a block from a peer may hold them all)."""
    empty = n.driver.propose()
    header = msgspec.structs.replace(empty.header, tx_root=tx_root([tx_hash(t) for t in txs]))
    return n.driver.commit(Block(header, txs, empty.last_commit, empty.evidence))


def test_one_block_indexes_like_one_block_per_tx(tmp_path: Path) -> None:
    a = Net(tmp_path / "a.sqlite")
    setup, txs = scenario(a)
    ids = [tx_hash(t) for t in txs]
    a.block(*setup)
    res = one_block(a, txs)
    assert res.results == [("ok", "")] * len(txs)
    one = Net(tmp_path / "b.sqlite")
    one.block(*setup)
    for tx in txs:
        assert one.block(tx).results == [("ok", "")]
    try:
        da, db = dump(a.path), dump(one.path)
        for k in da:
            assert da[k] == db[k], k
        # Real rows, not two empty tables: 7 posts + 1 repost, 4 likes left, tags counted.
        assert len(da["posts"]) == 8 and len(da["reactions"]) == 4
        assert da["totals"] == [("one", 1), ("three", 1), ("two", 1)]
        assert sum(1 for p in da["posts"] if p[7]) == 2  # two deleted rows
        row = next(p for p in da["posts"] if p[0] == ids[0])
        assert row[8:] == (1, 0, 1, 1, 2)  # edits, replies (r1 deleted), reposts, quotes, likes
        posts_of = {x[0]: x[2] for x in da["accounts"]}
        assert [posts_of[a.key(i)] for i in range(4)] == [1, 0, 2, 2]
        sa, sb = searches(a), searches(one)
        assert sa == sb
        assert len(sa["late"]) == 1 and sa["gone"] == [] and len(sa["edited"]) == 1
    finally:
        a.close()
        one.close()
