"""Consensus messages: what validators sign and gossip, and the timeouts they schedule.

Every message on the consensus channel is one member of the tagged union
`ConsensusMsg`. Votes, commits and evidence are the shared structs from
`agora.blockchain.votes`; a proposal is defined here.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

import msgspec
import nacl.signing

from agora.blockchain.votes import Commit, DuplicateVoteEvidence, Vote
from agora.codec import Canonical, Codec, encode

PROPOSAL_DOMAIN = b"agora-proposal-v1\x00"

# Verifies an Ed25519 signature: (public key, message, signature) -> ok.
Verifier = Callable[[bytes, bytes, bytes], bool]


class Step(IntEnum):
    """A round's steps, then COMMIT (decided, waiting for the app and the block interval).

    GOSSIP is only a timeout kind: the periodic re-broadcast tick.
    """

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2
    COMMIT = 3
    GOSSIP = 4


class SignedKind(IntEnum):
    """What a validator signs in a (height, round): the WAL's step."""

    PROPOSAL = 0
    PREVOTE = 1
    PRECOMMIT = 2


class ProposalData(Canonical, frozen=True):
    chain_id: str
    height: int
    round: int
    pol_round: int
    block_id: bytes
    proposer: bytes


class Proposal(Canonical, frozen=True, tag=1):
    """A proposer's block for (height, round).

    `pol_round` is the round of the +2/3 prevotes that justify re-proposing a
    block (-1: a new block). The signature covers everything but the block
    bytes, which are bound by `block_id`; receivers check the id themselves.
    """

    chain_id: str
    height: int
    round: int
    pol_round: int
    block_id: bytes
    block: bytes
    proposer: bytes
    signature: bytes

    def sign_bytes(self) -> bytes:
        return proposal_sign_bytes(
            self.chain_id, self.height, self.round, self.pol_round, self.block_id, self.proposer
        )


def proposal_sign_bytes(
    chain_id: str, height: int, round: int, pol_round: int, block_id: bytes, proposer: bytes
) -> bytes:
    data = ProposalData(chain_id, height, round, pol_round, block_id, proposer)
    return PROPOSAL_DOMAIN + encode(data)


def sign_proposal(
    key: nacl.signing.SigningKey,
    chain_id: str,
    height: int,
    round: int,
    pol_round: int,
    block_id: bytes,
    block: bytes,
) -> Proposal:
    me = bytes(key.verify_key)
    sig = key.sign(proposal_sign_bytes(chain_id, height, round, pol_round, block_id, me)).signature
    return Proposal(chain_id, height, round, pol_round, block_id, block, me, sig)


class VoteMsg(Canonical, frozen=True, tag=2):
    vote: Vote


class Decided(Canonical, frozen=True, tag=3):
    """A decided block with its commit: how a node behind inside consensus jumps a height.

    Block sync feeds the core through the same event (`Core.on_decided`).
    """

    block: bytes
    commit: Commit


class EvidenceMsg(Canonical, frozen=True, tag=4):
    evidence: DuplicateVoteEvidence


ConsensusMsg = Proposal | VoteMsg | Decided | EvidenceMsg


class Timeout(msgspec.Struct, frozen=True):
    height: int
    round: int
    step: Step


def msg_codec(max_block_bytes: int) -> Codec[ConsensusMsg]:
    """A strict decoder for the consensus channel; a block may be up to `max_block_bytes`."""
    # Room for a proposal's header fields, or a commit of up to 10k signatures.
    return Codec(ConsensusMsg, max_block_bytes + 1_100_000, "consensus message")  # type: ignore[arg-type]
