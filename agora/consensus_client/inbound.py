"""Checking a consensus packet from a peer before anything acts on it.

`check_packet` decodes the body for its code, and checks what needs no state:
the chain id, that the signer is a validator, the signature, and (for a
proposal) that the block bytes have the id that was signed. What passes may
be relayed and handed to the core with `verified=True`. A failure is a
RemoteError for the sender: undecodable bodies, a message under the wrong
code and bad signatures are protocol violations (100, a ban).
"""

from __future__ import annotations

from agora.blockchain.votes import DuplicateVoteEvidence, ValidatorSet, Vote, VoteType
from agora.blockchain.votes import verify_signature as verify
from agora.blockchain.wire import header_id
from agora.codec import Codec
from agora.consensus_client.types import ConsensusMsg, EvidenceMsg, Proposal, VoteMsg
from agora.errors import RemoteError
from agora.peer_net.handlers import AppCode

VIOLATION = 100

Checked = Proposal | Vote | DuplicateVoteEvidence


def _bad(message: str, code: str, penalty: int = VIOLATION) -> RemoteError:
    return RemoteError(message, code=code, penalty=penalty)


def check_packet(
    code: int, body: bytes, chain_id: str, valset: ValidatorSet, codec: Codec[ConsensusMsg]
) -> Checked:
    try:
        msg = codec.decode(body)
    except RemoteError as e:
        raise _bad(f"consensus message: {e.message}", e.code) from None
    if code == AppCode.PROPOSAL and isinstance(msg, Proposal):
        return _proposal(msg, chain_id, valset)
    if code == AppCode.VOTE and isinstance(msg, VoteMsg):
        return _vote(msg.vote, chain_id, valset)
    if code == AppCode.EVIDENCE and isinstance(msg, EvidenceMsg):
        msg.evidence.verify(chain_id, valset)  # bad_evidence, penalty 100
        return msg.evidence
    raise _bad(f"a {type(msg).__name__} sent as code {code}", "wrong_message")


def _proposal(p: Proposal, chain_id: str, valset: ValidatorSet) -> Proposal:
    if p.chain_id != chain_id:
        raise _bad(f"proposal for chain {p.chain_id!r}", "wrong_chain", 20)
    if p.proposer not in valset:
        raise _bad("proposal from a non-validator", "unknown_validator", 50)
    if p.round < 0 or not -1 <= p.pol_round < p.round or p.height < 1:
        raise _bad("proposal rounds out of range", "bad_proposal", 50)
    if not verify(p.proposer, p.sign_bytes(), p.signature):
        raise _bad("proposal signature invalid", "bad_signature")
    if header_id(p.block) != p.block_id:
        raise _bad("block does not match block_id", "bad_block_id", 50)
    return p


def _vote(v: Vote, chain_id: str, valset: ValidatorSet) -> Vote:
    if v.chain_id != chain_id:
        raise _bad(f"vote for chain {v.chain_id!r}", "wrong_chain", 20)
    if v.validator not in valset:
        raise _bad("vote from a non-validator", "unknown_validator", 50)
    if v.type not in (VoteType.PREVOTE, VoteType.PRECOMMIT) or v.round < 0 or v.height < 1:
        raise _bad("vote type or round out of range", "bad_vote", 50)
    if not v.verify():
        raise _bad("vote signature invalid", "bad_signature")
    return v
