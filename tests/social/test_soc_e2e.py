"""Four validators' stores in one process: txs reach every mempool (gossip), the
proposer of each height builds the block, every node validates and commits it with the
same +2/3 commit. Every node answers every query the same, and a delete leaves the
erased words in no node's database or WAL file. (The same over real node processes
needs the running devnet.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from social_util import CHAIN

from agora.blockchain.block import Block
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import BLOCK_MS, dev_keys
from agora.blockchain.genesis import Params, make_dev_genesis
from agora.blockchain.tx import Tx, make_tx, tx_hash
from agora.blockchain.votes import VoteType, make_commit, sign_vote
from agora.codec import encode
from agora.social import bodies as b
from agora.social.module import SocialModule
from agora.social.service import SocialReader

WORD = "xqjzerasedword"


class Cluster:
    def __init__(self, tmp: Path, n_users: int = 5) -> None:
        self.vals = dev_keys("val", 4)
        self.users = dev_keys("user", n_users)
        self.genesis = make_dev_genesis(
            CHAIN, [bytes(k.verify_key) for k in self.vals],
            [bytes(k.verify_key) for k in self.users], genesis_time=1_700_000_000_000,
            params=Params(quota_base=1000, quota_max=1000),
            modules={"social": {"max_post_chars": 500}},
        )  # fmt: skip
        self.paths = [tmp / f"node{i}.sqlite" for i in range(4)]
        self.nodes = [Chain.open(p, self.genesis, [SocialModule()]) for p in self.paths]
        self.nonces = [0] * n_users
        self.last_commit: Any = None

    def tx(self, who: int, kind: str, body: Any) -> Tx:
        self.nonces[who] += 1
        fee = 100 if kind == "handle_register" else 0
        return make_tx(self.users[who], CHAIN, self.nonces[who], kind, encode(body), fee=fee)

    def block(self, *txs: Tx) -> list[str]:
        """Gossip the txs to every mempool, let this height's proposer build the block,
        and commit it everywhere; the results, the same on every node."""
        for node in self.nodes:
            node.mempool.add_batch(txs)
        h = self.nodes[0].height + 1
        proposer = h % 4
        chain = self.nodes[proposer]
        block: Block = chain.build_block(
            chain.time_ms + BLOCK_MS, bytes(self.vals[proposer].verify_key), self.last_commit
        )
        votes = [sign_vote(k, CHAIN, h, 0, VoteType.PRECOMMIT, block.id()) for k in self.vals]
        commit = make_commit(votes)
        results, roots = [], set()
        for node in self.nodes:
            node.validate_block(block)
            r = node.commit_block(block, commit)
            results.append(r.results)
            roots.add(r.state_root)
        self.last_commit = commit
        assert len(roots) == 1 and all(x == results[0] for x in results)
        return [c for c, _ in results[0]]

    def do(self, *txs: Tx) -> list[bytes]:
        assert all(c == "ok" for c in self.block(*txs))
        return [tx_hash(t) for t in txs]

    def close(self) -> None:
        for n in self.nodes:
            n.close()


def test_four_nodes_agree_and_forget(tmp_path: Path) -> None:
    c = Cluster(tmp_path)
    names = ["alice", "bob", "carol", "dave", "erin"]
    c.do(*(c.tx(i, "handle_register", b.HandleRegister(n)) for i, n in enumerate(names)))
    c.do(
        c.tx(1, "follow", b.Target(b"", "alice")),
        c.tx(2, "follow", b.Target(b"", "alice")),
        c.tx(3, "follow", b.Target(b"", "bob")),
        c.tx(4, "profile_set", b.ProfileSet(b"Erin", b"bakes #bread", b"")),
    )
    (p,) = c.do(c.tx(0, "post", b.Post(f"hello #agora @bob {WORD}".encode())))
    r, q = c.do(
        c.tx(1, "post", b.Post(b"welcome alice", reply_to=p)),
        c.tx(2, "post", b.Post(b"quoting #agora", quote_of=p)),
    )
    c.do(
        c.tx(3, "react", b.React(p, "like")),
        c.tx(4, "repost", b.PostRef(p)),
        c.tx(0, "edit", b.Edit(p, f"hello again #agora {WORD}edit".encode())),
    )
    c.do(c.tx(0, "mute", b.Target(b"", "dave")), c.tx(1, "block", b.Target(b"", "erin")))
    # Refused by every mempool alike: erin is blocked by bob.
    bad = c.tx(4, "post", b.Post(b"hi", reply_to=r))
    refused = [n.mempool.add_batch([bad])[0] for n in c.nodes]
    assert {getattr(e, "code", None) for e in refused} == {"blocked"}
    c.nonces[4] -= 1
    c.do(c.tx(2, "post", b.Post(b"late reply", reply_to=r)))
    for path in c.paths:
        assert WORD.encode() in b"".join(
            Path(str(path) + s).read_bytes() for s in ("", "-wal") if Path(str(path) + s).exists()
        )
    c.do(c.tx(0, "delete", b.PostRef(p)))
    readers = [SocialReader.open(path, c.genesis) for path in c.paths]
    try:
        queries = [
            lambda rd: rd.feed("bob"),
            lambda rd: rd.feed("carol"),
            lambda rd: rd.notifications("alice"),
            lambda rd: rd.notifications("bob"),
            lambda rd: rd.thread(r.hex()),
            lambda rd: rd.post(q.hex()),
            lambda rd: rd.post(p.hex()),
            lambda rd: rd.profile("alice", "bob"),
            lambda rd: rd.followers("alice"),
            lambda rd: rd.search_posts("agora"),
            lambda rd: rd.search_profiles("bread"),
            lambda rd: rd.trending(),
            lambda rd: rd.account_state("erin"),
        ]
        for query in queries:
            answers = [query(rd) for rd in readers]
            assert all(a == answers[0] for a in answers)
        assert readers[0].post(p.hex()).post.deleted
        assert readers[0].search_posts(WORD).items == []
    finally:
        for rd in readers:
            rd.close()
    for path in c.paths:
        for suffix in ("", "-wal"):
            f = Path(str(path) + suffix)
            if f.exists():
                assert WORD.encode() not in f.read_bytes(), f
    c.close()
