"""Validators, votes and commits: what consensus signs and blocks carry.

Shared by `consensus_client` (which produces them) and `blockchain` (which
stores and verifies them), so it depends on neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

import nacl.exceptions
import nacl.signing

from agora.codec import Canonical, encode, sha256
from agora.errors import RemoteError

VOTE_DOMAIN = b"agora-vote-v1\x00"
NIL = b""  # block_id of a vote for no block


class VoteType(IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


class Validator(Canonical, frozen=True):
    pub_key: bytes
    power: int


class VoteData(Canonical, frozen=True):
    chain_id: str
    height: int
    round: int
    type: int
    block_id: bytes


def vote_sign_bytes(chain_id: str, height: int, round: int, type: int, block_id: bytes) -> bytes:
    return VOTE_DOMAIN + encode(VoteData(chain_id, height, round, type, block_id))


def verify_signature(pub_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(pub_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError):
        return False
    return True


class Vote(Canonical, frozen=True):
    chain_id: str
    height: int
    round: int
    type: int
    block_id: bytes
    validator: bytes
    signature: bytes

    def sign_bytes(self) -> bytes:
        return vote_sign_bytes(self.chain_id, self.height, self.round, self.type, self.block_id)

    def verify(self) -> bool:
        return verify_signature(self.validator, self.sign_bytes(), self.signature)


def sign_vote(
    key: nacl.signing.SigningKey, chain_id: str, height: int, round: int, type: int, block_id: bytes
) -> Vote:
    sig = key.sign(vote_sign_bytes(chain_id, height, round, type, block_id)).signature
    return Vote(chain_id, height, round, type, block_id, bytes(key.verify_key), sig)


class ValidatorSet:
    """Validators ordered by public key; +2/3 of the power is a quorum."""

    def __init__(self, validators: Iterable[Validator]) -> None:
        vals = sorted(validators, key=lambda v: v.pub_key)
        if not vals:
            raise ValueError("a validator set needs at least one validator")
        keys = [v.pub_key for v in vals]
        if len(set(keys)) != len(keys) or any(v.power <= 0 for v in vals):
            raise ValueError("validators must be distinct with positive power")
        self.validators: tuple[Validator, ...] = tuple(vals)
        self.power: dict[bytes, int] = {v.pub_key: v.power for v in vals}
        self.total_power = sum(self.power.values())
        self.quorum = self.total_power * 2 // 3 + 1
        self.hash = sha256(encode(list(self.validators)))

    def __len__(self) -> int:
        return len(self.validators)

    def __contains__(self, pub_key: object) -> bool:
        return pub_key in self.power


class CommitSig(Canonical, frozen=True):
    validator: bytes
    signature: bytes


class Commit(Canonical, frozen=True):
    """The +2/3 precommits for one block: it is final."""

    height: int
    round: int
    block_id: bytes
    signatures: list[CommitSig]

    def hash(self) -> bytes:
        return sha256(encode(self))

    def verify(self, chain_id: str, valset: ValidatorSet) -> None:
        """Raise RemoteError unless +2/3 of `valset` precommitted this block."""
        if self.block_id == NIL:
            raise RemoteError("a commit must name a block", code="bad_commit", penalty=100)
        msg = vote_sign_bytes(chain_id, self.height, self.round, VoteType.PRECOMMIT, self.block_id)
        previous = b""
        power = 0
        for cs in self.signatures:
            # Sorted and distinct, so that a commit has one encoding.
            if cs.validator <= previous or cs.validator not in valset:
                raise RemoteError(
                    "commit signers unknown or unsorted", code="bad_commit", penalty=100
                )
            if not verify_signature(cs.validator, msg, cs.signature):
                raise RemoteError("commit signature invalid", code="bad_commit", penalty=100)
            previous = cs.validator
            power += valset.power[cs.validator]
        if power < valset.quorum:
            raise RemoteError(
                f"commit has {power} of {valset.total_power} power, needs {valset.quorum}",
                code="commit_without_quorum",
                penalty=100,
            )


def make_commit(precommits: Iterable[Vote]) -> Commit:
    """Build the commit from precommits for one block (all for the same height, round, id)."""
    votes = sorted({v.validator: v for v in precommits}.values(), key=lambda v: v.validator)
    if not votes:
        raise ValueError("no precommits")
    first = votes[0]
    sigs = [CommitSig(v.validator, v.signature) for v in votes]
    return Commit(first.height, first.round, first.block_id, sigs)


class DuplicateVoteEvidence(Canonical, frozen=True):
    """Two votes by one validator for one height, round and type, naming different blocks."""

    vote_a: Vote
    vote_b: Vote

    def hash(self) -> bytes:
        return sha256(encode(self))

    def verify(self, chain_id: str, valset: ValidatorSet) -> None:
        a, b = self.vote_a, self.vote_b
        same_slot = (a.chain_id, a.height, a.round, a.type, a.validator) == (
            b.chain_id,
            b.height,
            b.round,
            b.type,
            b.validator,
        )
        # Ordered by block id so that one pair of votes has one encoding.
        if not same_slot or a.chain_id != chain_id or not a.block_id < b.block_id:
            raise RemoteError("votes do not conflict", code="bad_evidence", penalty=100)
        if a.validator not in valset:
            raise RemoteError("evidence names no validator", code="bad_evidence", penalty=100)
        if not (a.verify() and b.verify()):
            raise RemoteError("evidence signature invalid", code="bad_evidence", penalty=100)


def make_evidence(v1: Vote, v2: Vote) -> DuplicateVoteEvidence:
    a, b = sorted((v1, v2), key=lambda v: v.block_id)
    return DuplicateVoteEvidence(a, b)
