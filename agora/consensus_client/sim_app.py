"""The simulator's stand-ins: a fake application, a cached verifier, the equivocator.

A fake block is `b"blk:" | height (8 bytes) | builder | 16 random bytes`; an
invalid one starts with `b"BAD!"`. Its id is its SHA-256.
"""

from __future__ import annotations

import random

import nacl.signing

from agora.blockchain.votes import (
    NIL,
    Commit,
    ValidatorSet,
    VoteType,
    sign_vote,
    verify_signature,
    vote_sign_bytes,
)
from agora.codec import sha256
from agora.consensus_client.types import ConsensusMsg, Proposal, VoteMsg, sign_proposal


def block_id_of(block: bytes) -> bytes:
    return sha256(block)


def make_block(rng: random.Random, height: int, builder: int, invalid: bool) -> bytes:
    tag = b"BAD!" if invalid else b"blk:"
    return tag + height.to_bytes(8, "big") + bytes([builder]) + rng.randbytes(16)


def block_ok(block: bytes, height: int) -> bool:
    return len(block) == 29 and block[:4] == b"blk:" and block[4:12] == height.to_bytes(8, "big")


class CachedVerifier:
    """Signatures checked once per run: the nodes of a simulation share it."""

    def __init__(self) -> None:
        self._seen: dict[tuple[bytes, bytes, bytes], bool] = {}

    def __call__(self, pub_key: bytes, msg: bytes, sig: bytes) -> bool:
        k = (pub_key, msg, sig)
        ok = self._seen.get(k)
        if ok is None:
            ok = self._seen[k] = verify_signature(pub_key, msg, sig)
        return ok


def commit_ok(commit: Commit, chain_id: str, valset: ValidatorSet, verify: CachedVerifier) -> bool:
    msg = vote_sign_bytes(
        chain_id, commit.height, commit.round, VoteType.PRECOMMIT, commit.block_id
    )
    signers = [s.validator for s in commit.signatures]
    if commit.block_id == NIL or signers != sorted(set(signers)):
        return False
    if any(
        s.validator not in valset or not verify(s.validator, msg, s.signature)
        for s in commit.signatures
    ):
        return False
    return sum(valset.power[v] for v in signers) >= valset.quorum


class FakeApp:
    """One node's application: it survives the node's crashes, like a database."""

    def __init__(self) -> None:
        self.blocks: dict[int, tuple[bytes, Commit]] = {}

    @property
    def height(self) -> int:
        return max(self.blocks, default=0)

    def commit(self, height: int, block: bytes, commit: Commit) -> None:
        self.blocks[height] = (block, commit)


class Equivocator:
    """Turns one honest core's messages into conflicting pairs, split between peers."""

    def __init__(
        self, key: nacl.signing.SigningKey, chain_id: str, rng: random.Random, me: int
    ) -> None:
        self.key = key
        self.pub = bytes(key.verify_key)
        self.chain_id = chain_id
        self.rng = rng
        self.me = me
        self.slots: list[tuple[int, int, int]] = []  # (height, round, kind) it equivocated in

    def split(self, msg: ConsensusMsg, peers: list[int]) -> list[tuple[int, ConsensusMsg]]:
        twin = self._twin(msg)
        if twin is None:
            return [(p, msg) for p in peers]
        half = set(self.rng.sample(peers, len(peers) // 2 + self.rng.randint(0, 1)))
        return [(p, twin if p in half else msg) for p in peers]

    def _twin(self, msg: ConsensusMsg) -> ConsensusMsg | None:
        if self.rng.random() < 0.3:
            return None
        if isinstance(msg, VoteMsg) and msg.vote.validator == self.pub:
            v = msg.vote
            other = self.rng.randbytes(32) if v.block_id == NIL or self.rng.random() < 0.3 else NIL
            self.slots.append((v.height, v.round, v.type))
            return VoteMsg(sign_vote(self.key, self.chain_id, v.height, v.round, v.type, other))
        if isinstance(msg, Proposal) and msg.proposer == self.pub:
            block = make_block(self.rng, msg.height, self.me, invalid=False)
            self.slots.append((msg.height, msg.round, 0))
            return sign_proposal(
                self.key, self.chain_id, msg.height, msg.round, -1, block_id_of(block), block
            )
        return None
