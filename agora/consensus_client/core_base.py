"""The outbound half of the core: the step table, signing with the WAL, broadcasting.

Signing goes through one place: a vote or proposal is signed only if this
node signed nothing for that (height, round, kind) before (in this run or, via
the WAL, in an earlier one). Otherwise the earlier one is sent again.
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing

from agora.blockchain.votes import ValidatorSet, Vote, VoteType, sign_vote
from agora.consensus_client.actions import Action, Broadcast, PersistSigned
from agora.consensus_client.height_state import HeightState
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import (
    Proposal,
    SignedKind,
    Step,
    Verifier,
    VoteMsg,
    sign_proposal,
)
from agora.errors import LocalError, RemoteError
from agora.logs import Log

# Allowed step changes; PROPOSE -> PROPOSE is a new round (or a round skip).
STEP_TABLE: dict[Step, frozenset[Step]] = {
    Step.PROPOSE: frozenset({Step.PROPOSE, Step.PREVOTE, Step.COMMIT}),
    Step.PREVOTE: frozenset({Step.PROPOSE, Step.PRECOMMIT, Step.COMMIT}),
    Step.PRECOMMIT: frozenset({Step.PROPOSE, Step.COMMIT}),
    Step.COMMIT: frozenset({Step.PROPOSE}),
}


class CoreBase:
    hs: HeightState
    height: int
    valset: ValidatorSet

    def __init__(
        self,
        chain_id: str,
        key: nacl.signing.SigningKey | None,
        params: ConsensusParams,
        block_id_of: Callable[[bytes], bytes],
        verify: Verifier,
        now_ms: int,
    ) -> None:
        self.chain_id = chain_id
        self.key = key
        self.me: bytes | None = bytes(key.verify_key) if key is not None else None
        self.params = params
        self.block_id_of = block_id_of
        self.verify = verify
        self.round = 0
        self.step = Step.PROPOSE
        self.log = Log("agora.consensus")
        self._now = now_ms
        self._out: list[Action] = []
        self._seen_height = 0
        self._started = False

    # -- plumbing ---------------------------------------------------------------

    def _event(self, now_ms: int, chain_id: str | None = None) -> None:
        if not self._started:
            raise LocalError("core used before start()", code="not_started")
        self._now = now_ms
        self._out = []
        if chain_id is not None and chain_id != self.chain_id:
            raise RemoteError(f"message for chain {chain_id!r}", code="wrong_chain", penalty=20)

    def _take(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _emit(self, action: Action) -> None:
        self._out.append(action)

    def _set_step(self, step: Step) -> None:
        if step not in STEP_TABLE[self.step]:
            raise LocalError(f"step {self.step.name} -> {step.name} not allowed", code="bad_step")
        self.step = step

    def _timeout(self, step: Step) -> int:
        return self.params.timeout_ms(step, self.round)

    def _check_sig(self, signer: bytes, msg: bytes, sig: bytes, verified: bool) -> None:
        if not verified and not self.verify(signer, msg, sig):
            raise RemoteError("invalid signature", code="bad_signature", penalty=100)

    def _broadcast(self, msg: Proposal | Vote) -> None:
        self._emit(Broadcast(msg if isinstance(msg, Proposal) else VoteMsg(msg)))

    # -- signing ----------------------------------------------------------------

    def _vote(self, type: VoteType, block_id: bytes) -> None:
        if self.key is None:
            return
        hs = self.hs
        mine = hs.signed.get((self.round, int(type)))
        if mine is None:
            mine = sign_vote(self.key, self.chain_id, self.height, self.round, type, block_id)
            hs.signed[(self.round, int(type))] = mine
            self._emit(PersistSigned(hs.wal_entry(self.round, SignedKind(type), mine)))
        elif mine.block_id != block_id:
            self.log.info("kept_earlier_vote", height=self.height, round=self.round, type=type)
        if isinstance(mine, Vote):
            self._broadcast(mine)
            hs.votes.add(mine)

    def _propose(self, block: bytes, block_id: bytes, pol_round: int) -> None:
        if self.key is None:
            return
        hs = self.hs
        mine = hs.signed.get((self.round, SignedKind.PROPOSAL))
        if mine is None:
            mine = sign_proposal(
                self.key, self.chain_id, self.height, self.round, pol_round, block_id, block
            )
            hs.signed[(self.round, SignedKind.PROPOSAL)] = mine
            self._emit(PersistSigned(hs.wal_entry(self.round, SignedKind.PROPOSAL, mine)))
        if isinstance(mine, Proposal):
            self._send_proposal(mine)
            hs.valid[mine.block_id] = True
            hs.add_proposal(mine)

    def _send_proposal(self, p: Proposal) -> None:
        self._broadcast(p)
        if p.pol_round >= 0:
            # Receivers need the +2/3 prevotes that justify re-proposing (L28).
            for v in self.hs.votes.votes_for(p.pol_round, VoteType.PREVOTE, p.block_id):
                self._broadcast(v)

    def _rebroadcast(self) -> None:
        """Send again what a peer needs to join this round: our proposal, the round's
        votes, and the previous round's precommits (which justify being in this one)."""
        hs, r = self.hs, self.round
        first = hs.first.get(r)
        if first is not None and first.proposer == self.me:
            self._send_proposal(first)
        for rr, t in ((r - 1, VoteType.PRECOMMIT), (r, VoteType.PREVOTE), (r, VoteType.PRECOMMIT)):
            for v in hs.votes.votes(rr, t):
                self._broadcast(v)
