"""The workload of `agora bench social`: signed txs, generated block by block from a seed.

Accounts register handles, follow others, then post (some replies, some with hashtags)
and like earlier posts. Txs are signed on a thread pool (libsodium releases the GIL);
a reply or a like only points at posts of earlier blocks, so every tx is valid.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field

import nacl.signing

from agora.blockchain.genesis import dev_signing_key
from agora.blockchain.tx import encode_tx, make_tx, tx_hash
from agora.codec import encode
from agora.social import bodies as b

CHAIN_ID = "agora-bench"
SEED = b"agora-bench-social"


def _vocabulary(rng: random.Random, n: int, lo: int, hi: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(lo, hi))))
    return sorted(words)


@dataclass
class Workload:
    accounts: int
    follows: int
    seed: int = 7
    keys: list[nacl.signing.SigningKey] = field(default_factory=list)
    nonces: list[int] = field(default_factory=list)
    posts: list[bytes] = field(default_factory=list)  # ids of committed posts (for replies)
    liked: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.keys = [dev_signing_key(f"u{i}", SEED) for i in range(self.accounts)]
        self.nonces = [0] * self.accounts
        self.words = _vocabulary(self.rng, 20_000, 3, 9)
        self.word_w = list(itertools.accumulate(1 / (i + 1) for i in range(len(self.words))))
        self.tags = _vocabulary(self.rng, 1_000, 4, 10)
        self.tag_w = list(itertools.accumulate(1 / (i + 1) for i in range(len(self.tags))))

    def pubkey(self, i: int) -> bytes:
        return bytes(self.keys[i].verify_key)

    def _next(self, i: int) -> int:
        self.nonces[i] += 1
        return self.nonces[i]

    # --- plans: (account, nonce, kind, body bytes), made here, signed on the pool

    def handles(self, block: int) -> Iterator[list[tuple[int, int, str, bytes]]]:
        for start in range(0, self.accounts, block):
            yield [
                (i, self._next(i), "handle_register", encode(b.HandleRegister(f"user{i}")))
                for i in range(start, min(start + block, self.accounts))
            ]

    def follow_plans(self, block: int) -> Iterator[list[tuple[int, int, str, bytes]]]:
        per = max(1, block // max(1, self.follows))
        for start in range(0, self.accounts, per):
            plan: list[tuple[int, int, str, bytes]] = []
            for i in range(start, min(start + per, self.accounts)):
                others = self.rng.sample(
                    range(self.accounts - 1), min(self.follows, self.accounts - 1)
                )
                for o in others:
                    t = o if o < i else o + 1
                    plan.append((i, self._next(i), "follow", encode(b.Target(self.pubkey(t)))))
            yield plan

    def text(self) -> str:
        words = self.rng.choices(self.words, cum_weights=self.word_w, k=self.rng.randint(8, 20))
        if self.rng.random() < 0.6:
            for t in self.rng.choices(self.tags, cum_weights=self.tag_w, k=self.rng.randint(1, 2)):
                words.insert(self.rng.randrange(len(words) + 1), "#" + t)
        return " ".join(words)

    def post_plan(self, n: int, reply_share: float = 0.3) -> list[tuple[int, int, str, bytes]]:
        plan: list[tuple[int, int, str, bytes]] = []
        for _ in range(n):
            i = self.rng.randrange(self.accounts)
            reply = None
            if self.posts and self.rng.random() < reply_share:
                # Replies go to recent posts mostly, as conversations do.
                reply = self.posts[
                    -1 - min(len(self.posts) - 1, int(self.rng.expovariate(1 / 2000)))
                ]
            body = b.Post(self.text().encode(), reply, None)
            plan.append((i, self._next(i), "post", encode(body)))
        return plan

    def like_plan(self, n: int) -> list[tuple[int, int, str, bytes]]:
        plan: list[tuple[int, int, str, bytes]] = []
        while len(plan) < n and self.posts:
            i = self.rng.randrange(self.accounts)
            p = len(self.posts) - 1 - min(len(self.posts) - 1, int(self.rng.expovariate(1 / 5000)))
            mark = i << 32 | p
            if mark in self.liked:
                continue
            self.liked.add(mark)
            plan.append((i, self._next(i), "react", encode(b.React(self.posts[p], "like"))))
        return plan

    def sign(self, plan: list[tuple[int, int, str, bytes]], pool: Executor) -> list[bytes]:
        """Wire bytes of the plan's txs, signed on the pool; post ids are remembered."""
        chunks = [plan[k : k + 500] for k in range(0, len(plan), 500)]

        def work(chunk: list[tuple[int, int, str, bytes]]) -> list[tuple[bytes, bytes]]:
            out = []
            for i, nonce, kind, body in chunk:
                tx = make_tx(self.keys[i], CHAIN_ID, nonce, kind, body)
                out.append((encode_tx(tx), tx_hash(tx) if kind == "post" else b""))
            return out

        raws: list[bytes] = []
        for part in pool.map(work, chunks):
            for raw, h in part:
                raws.append(raw)
                if h:
                    self.posts.append(h)
        return raws
