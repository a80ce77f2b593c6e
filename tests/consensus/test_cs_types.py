"""Consensus messages on the wire: one tagged union, strict decoding, signed proposals."""

from __future__ import annotations

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blockchain.votes import NIL, VoteType, make_commit, make_evidence, sign_vote
from agora.codec import encode, sha256
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import (
    Decided,
    EvidenceMsg,
    Proposal,
    Step,
    VoteMsg,
    msg_codec,
    sign_proposal,
)
from agora.errors import LocalError, RemoteError

KEY = nacl.signing.SigningKey(sha256(b"types-test"))
CODEC = msg_codec(1024)


def test_every_message_roundtrips_through_the_union() -> None:
    p = sign_proposal(KEY, "c", 3, 1, 0, sha256(b"blk"), b"blk")
    v1 = sign_vote(KEY, "c", 3, 1, VoteType.PREVOTE, sha256(b"blk"))
    v2 = sign_vote(KEY, "c", 3, 1, VoteType.PREVOTE, NIL)
    pc = sign_vote(KEY, "c", 3, 1, VoteType.PRECOMMIT, sha256(b"blk"))
    msgs = [p, VoteMsg(v1), Decided(b"blk", make_commit([pc])), EvidenceMsg(make_evidence(v1, v2))]
    for m in msgs:
        assert CODEC.decode(encode(m)) == m
    assert encode(p)[1] == 1 and encode(VoteMsg(v1))[1] == 2  # the tag leads


def test_proposal_signature_covers_every_field_but_the_block() -> None:
    p = sign_proposal(KEY, "c", 3, 1, -1, sha256(b"blk"), b"blk")
    assert p.sign_bytes().startswith(b"agora-proposal-v1\x00")
    fields = {f: getattr(p, f) for f in p.__struct_fields__}
    for name, other in [
        ("chain_id", "d"),
        ("height", 4),
        ("round", 2),
        ("pol_round", 0),
        ("block_id", sha256(b"x")),
    ]:
        changed = Proposal(**{**fields, name: other})
        assert changed.sign_bytes() != p.sign_bytes(), name


def test_oversize_and_garbage_are_remote_errors() -> None:
    big = sign_proposal(KEY, "c", 1, 0, -1, sha256(b"x"), b"x" * 2_000_000)
    with pytest.raises(RemoteError) as e:
        CODEC.decode(encode(big))
    assert e.value.code == "oversize"
    with pytest.raises(RemoteError):
        CODEC.decode(b"\x92\x09\x01")  # unknown tag


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_decoder_never_crashes(data: bytes) -> None:
    try:
        CODEC.decode(data)
    except RemoteError as e:
        assert e.code in ("undecodable", "invalid_value", "non_canonical", "oversize")


def test_params_grow_and_validate() -> None:
    p = ConsensusParams()
    assert [p.timeout_ms(Step.PROPOSE, r) for r in range(3)] == [1000, 1500, 2000]
    assert p.timeout_ms(Step.PRECOMMIT, 10_000) == p.max_timeout_ms
    assert p.round_ms(0) == 2000
    with pytest.raises(LocalError):
        ConsensusParams(propose_ms=0)
    with pytest.raises(LocalError):
        p.timeout_ms(Step.COMMIT, 0)
