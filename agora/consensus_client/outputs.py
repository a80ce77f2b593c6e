"""`CoreOutputs`: what the core asks for, carried out towards peer_net and the blockchain.

The `Outputs` of `CoreShell`: broadcasts, block requests to the blockchain
actor, evidence (gossiped once, counted per validator, and handed to the
blockchain's evidence pool for the next block), misbehaviour counts, and the
height a `CatchUp` wants (the actor fetches it through block sync).
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing

from agora.blockchain.messages import (
    AddEvidence,
    BuildBlockReq,
    ChainRequest,
    CheckBlockReq,
    CommitBlockReq,
)
from agora.blockchain.votes import DuplicateVoteEvidence
from agora.codec import encode
from agora.consensus_client import actions as act
from agora.consensus_client.outbox import Outbox
from agora.consensus_client.sync import BlockSync
from agora.consensus_client.types import EvidenceMsg, Proposal, VoteMsg
from agora.logs import Log
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Broadcast, Inbound, NetCommand

CATCH_UP_STATUS_S = 0.5  # how fresh peers' heights must be to fetch a height for the core
_log = Log("agora.consensus.actor")


class CoreOutputs:
    def __init__(
        self,
        net: Outbox[NetCommand],
        chain: Outbox[ChainRequest],
        key: nacl.signing.SigningKey | None,
        sync: BlockSync,
        clock: Callable[[], float],
    ) -> None:
        self.net = net
        self.chain = chain
        self.me = bytes(key.verify_key) if key is not None else b""
        self.sync = sync
        self.clock = clock
        self.want: int | None = None  # a height the core asked for (CatchUp)
        self.equivocations: dict[bytes, int] = {}  # validator -> conflicting vote pairs seen
        self.misbehaved: dict[str, int] = {}  # "validator:code" -> times
        self._evidence_seen: set[bytes] = set()

    def broadcast(self, code: int, msg: Proposal | VoteMsg | EvidenceMsg) -> None:
        self.net.put(Broadcast(code, encode(msg)))

    def build(self, a: act.BuildBlock) -> None:
        self.chain.put(BuildBlockReq(a.height, a.round, self.me, a.last_commit))

    def check(self, a: act.CheckBlock) -> None:
        self.chain.put(CheckBlockReq(a.height, a.round, a.block_id, a.block))

    def commit(self, a: act.CommitBlock) -> None:
        self.chain.put(CommitBlockReq(a.height, a.block, a.commit))

    def evidence(self, ev: DuplicateVoteEvidence) -> None:
        """The core found two conflicting votes: gossip them (once) and keep them."""
        if ev.hash() not in self._evidence_seen:
            self.broadcast(AppCode.EVIDENCE, EvidenceMsg(ev))
            self._record(ev)

    def evidence_in(self, ev: DuplicateVoteEvidence, packet: Inbound) -> None:
        """Verified evidence from a peer: pass it on (once) and keep it."""
        if ev.hash() not in self._evidence_seen:
            self.net.put(Broadcast(packet.code, packet.body, exclude=packet.peer_id))
            self._record(ev)

    def _record(self, ev: DuplicateVoteEvidence) -> None:
        self._evidence_seen.add(ev.hash())
        who = ev.vote_a.validator
        self.equivocations[who] = self.equivocations.get(who, 0) + 1
        _log.warning("equivocation", validator=who.hex()[:16], height=ev.vote_a.height)
        self.chain.put(AddEvidence(ev))

    def misbehaviour(self, validator: bytes, code: str) -> None:
        key = f"{validator.hex()[:16]}:{code}"
        self.misbehaved[key] = self.misbehaved.get(key, 0) + 1
        _log.info("validator_misbehaved", validator=validator.hex()[:16], code=code)

    def catch_up(self, height: int) -> None:
        self.want = height
        for r in self.sync.status_requests(self.clock(), CATCH_UP_STATUS_S):
            self.net.put(r)
