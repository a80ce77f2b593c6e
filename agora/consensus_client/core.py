"""A sans-IO Tendermint core: events in, actions out.

The rules are those of "The latest gossip on BFT consensus" (Buchman, Kwon,
Milosevic 2018); the comments name them by the paper's line numbers (L22 …).
Block validity is asked of the application (`CheckBlock`) and answered later
(`on_block_checked`); a rule that needs it waits until the answer is in.

Signatures are checked here unless the caller passes `verified=True` (a shell
that verifies on a thread pool, or relays from a seen-cache). Messages from the
next height are held (bounded) until it starts; messages from further ahead
only tell the core it is behind (`CatchUp`). Bad input raises RemoteError
before any state changes, so the shell can penalize the peer that sent it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import nacl.signing

from agora.blockchain.votes import (
    NIL,
    Commit,
    ValidatorSet,
    Vote,
    VoteType,
    make_commit,
    verify_signature,
)
from agora.consensus_client.actions import (
    Action,
    BuildBlock,
    CatchUp,
    CheckBlock,
    CommitBlock,
    EvidenceFound,
    Misbehaviour,
    ScheduleTimeout,
)
from agora.consensus_client.core_base import CoreBase
from agora.consensus_client.height_state import HeightState
from agora.consensus_client.proposer import ProposerSchedule
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import Proposal, SignedKind, Step, Timeout, Verifier
from agora.consensus_client.votes_set import Added
from agora.consensus_client.wal_entry import WalState
from agora.errors import LocalError, RemoteError


class Core(CoreBase):
    _next_valset: ValidatorSet | None
    _building: tuple[int, int] | None
    _decision: tuple[bytes, int] | None
    _commit: Commit | None
    _catchup_at: int | None

    def __init__(
        self,
        chain_id: str,
        valset: ValidatorSet,
        key: nacl.signing.SigningKey | None,
        height: int,
        params: ConsensusParams,
        wal_state: WalState | None,
        block_id_of: Callable[[bytes], bytes],
        now_ms: int,
        *,
        last_commit: Commit | None = None,
        verify: Verifier = verify_signature,
    ) -> None:
        if height < 1:
            raise LocalError("consensus starts at height 1", code="bad_height")
        super().__init__(chain_id, key, params, block_id_of, verify, now_ms)
        self.valset = valset
        self.proposers = ProposerSchedule(valset)
        self.height = height
        self.hs = HeightState(height, valset)
        self.last_commit = last_commit
        self._wal_state = wal_state or WalState()
        self._future: deque[Proposal | Vote] = deque()
        self._reset_height_fields()

    # -- events -------------------------------------------------------------

    def start(self, now_ms: int) -> list[Action]:
        if self._started:
            raise LocalError("core already started", code="already_started")
        self._started = True
        self._now = now_ms
        self._begin_height()
        return self._take()

    def on_proposal(self, p: Proposal, now_ms: int, *, verified: bool = False) -> list[Action]:
        self._event(now_ms, p.chain_id)
        self._proposal_in(p, verified)
        return self._take()

    def on_vote(self, v: Vote, now_ms: int, *, verified: bool = False) -> list[Action]:
        self._event(now_ms, v.chain_id)
        self._vote_in(v, verified)
        return self._take()

    def _proposal_in(self, p: Proposal, verified: bool) -> None:
        if p.round < 0 or not -1 <= p.pol_round < p.round or p.height < 1:
            raise RemoteError("proposal rounds out of range", code="bad_proposal", penalty=50)
        if p.height < self.height:
            return
        if p.proposer not in self.valset:
            raise RemoteError("proposal from a non-validator", code="unknown_validator", penalty=50)
        if p.height > self.height:
            self._hold(p, p.proposer, p.sign_bytes(), p.signature, verified)
            return
        if p.proposer != self.proposers.proposer(p.height, p.round):
            raise RemoteError("proposal from the wrong proposer", code="wrong_proposer", penalty=50)
        if self.step == Step.COMMIT or p.round > self.round + 2:
            return  # decided, or far ahead: the proposer re-sends it later
        if self.hs.proposals.get(p.round, {}).get(p.block_id) == p:
            return  # a re-sent copy: already checked
        self._check_sig(p.proposer, p.sign_bytes(), p.signature, verified)
        if self.block_id_of(p.block) != p.block_id:
            raise RemoteError("block does not match block_id", code="bad_block_id", penalty=50)
        self._take_proposal(p)
        self._rules(p.round)

    def _vote_in(self, v: Vote, verified: bool) -> None:
        if v.type not in (VoteType.PREVOTE, VoteType.PRECOMMIT) or v.round < 0 or v.height < 1:
            raise RemoteError("vote type or round out of range", code="bad_vote", penalty=50)
        if v.height < self.height:
            return
        if v.validator not in self.valset:
            raise RemoteError("vote from a non-validator", code="unknown_validator", penalty=50)
        if v.height > self.height:
            self._hold(v, v.validator, v.sign_bytes(), v.signature, verified)
            return
        if self.hs.votes.holds(v):
            return  # a re-sent copy of a vote already checked: skip the signature check
        self._check_sig(v.validator, v.sign_bytes(), v.signature, verified)
        if self._add_vote(v):
            self._rules(v.round)

    def on_timeout(self, t: Timeout, now_ms: int) -> list[Action]:
        self._event(now_ms)
        if t.height != self.height:
            return self._take()
        in_round = t.round == self.round
        if t.step == Step.PROPOSE and in_round and self.step == Step.PROPOSE:
            self._vote(VoteType.PREVOTE, NIL)  # L57
            self._set_step(Step.PREVOTE)
        elif t.step == Step.PREVOTE and in_round and self.step == Step.PREVOTE:
            self._vote(VoteType.PRECOMMIT, NIL)  # L61
            self._set_step(Step.PRECOMMIT)
        elif t.step == Step.PRECOMMIT and in_round and self.step != Step.COMMIT:
            self._start_round(self.round + 1)  # L65
        elif t.step == Step.COMMIT and self.step == Step.COMMIT:
            self._interval_done = True
            self._maybe_next_height()
            return self._take()
        elif t.step == Step.GOSSIP and self.step != Step.COMMIT:
            self._rebroadcast()
            self._maybe_catch_up(periodic=True)
            self._schedule(Timeout(self.height, 0, Step.GOSSIP), self.params.gossip_ms)
            return self._take()
        else:
            return self._take()
        self._rules(self.round)
        return self._take()

    def on_block_built(self, height: int, round: int, block: bytes, now_ms: int) -> list[Action]:
        self._event(now_ms)
        if self._building != (height, round):
            return self._take()
        self._building = None
        if (height, round) != (self.height, self.round) or self.step != Step.PROPOSE:
            return self._take()
        block_id = self.block_id_of(block)
        self.hs.valid[block_id] = True
        self._propose(block, block_id, -1)
        self._rules(self.round)
        return self._take()

    def on_block_checked(
        self, height: int, round: int, block_id: bytes, valid: bool, now_ms: int
    ) -> list[Action]:
        self._event(now_ms)
        if height != self.height or self.hs.valid.get(block_id, False) is not None:
            return self._take()
        self.hs.valid[block_id] = valid
        proposer = self.hs.proposer_of(block_id)
        if not valid and proposer is not None:
            self._emit(Misbehaviour(proposer, "invalid_block"))
        for r in self.hs.rounds_proposing(block_id):
            self._rules(r)
        self._rules(self.round)
        return self._take()

    def on_decided(self, block: bytes, commit: Commit, now_ms: int) -> list[Action]:
        self._event(now_ms)
        if commit.height != self.height or self.step == Step.COMMIT:
            return self._take()
        block_id = self.block_id_of(block)
        if block_id != commit.block_id:
            raise RemoteError(
                "block does not match its commit", code="commit_mismatch", penalty=100
            )
        commit.verify(self.chain_id, self.valset)
        self.hs.blocks[block_id] = block
        self._decide(block_id, commit.round, commit)
        return self._take()

    def on_committed(self, height: int, valset_next: ValidatorSet, now_ms: int) -> list[Action]:
        self._event(now_ms)
        if height != self.height or self.step != Step.COMMIT or self._next_valset is not None:
            raise LocalError(f"unexpected commit of height {height}", code="unexpected_commit")
        self._next_valset = valset_next
        self._maybe_next_height()
        return self._take()

    # -- heights and rounds ---------------------------------------------------

    def _reset_height_fields(self) -> None:
        self._height_started = self._now
        self._interval_done = False
        self._next_valset = None
        self._building = None
        self._decision = None
        self._commit = None
        self._catchup_at = None
        self._done: dict[tuple[int, str], bool] = {}

    def _begin_height(self) -> None:
        self._reset_height_fields()
        rec = self._wal_state.at(self.height)
        if rec is not None:
            self.hs.restore(rec)
        self._schedule(Timeout(self.height, 0, Step.GOSSIP), self.params.gossip_ms)
        self._start_round(self.hs.resume_round)
        held = [m for m in self._future if m.height == self.height]
        self._future.clear()
        for m in held:
            self._replay(m)
        self._rules(self.round)
        self._maybe_catch_up()

    def _replay(self, m: Proposal | Vote) -> None:
        try:
            if isinstance(m, Proposal):
                self._proposal_in(m, True)
            else:
                self._vote_in(m, True)
        except RemoteError as e:
            self.log.debug("held_message_dropped", code=e.code, height=self.height)

    def _maybe_next_height(self) -> None:
        if self._next_valset is None or not self._interval_done or self._decision is None:
            return
        block_id, round = self._decision
        ours = self.hs.votes.votes_for(round, VoteType.PRECOMMIT, block_id)
        if self._commit is not None and len(ours) > len(self._commit.signatures):
            self._commit = make_commit(ours)  # late precommits make a fuller commit
        self.last_commit = self._commit
        if self._next_valset is not self.valset:
            self.valset = self._next_valset
            self.proposers = ProposerSchedule(self.valset)
        self.height += 1
        self.hs = HeightState(self.height, self.valset)
        self._begin_height()

    def _start_round(self, round: int) -> None:
        self.round = round
        self.hs.votes.current_round = round
        self._set_step(Step.PROPOSE)
        self._schedule(Timeout(self.height, round, Step.PROPOSE), self._timeout(Step.PROPOSE))
        if self.me is None or self.proposers.proposer(self.height, round) != self.me:
            return
        mine = self.hs.signed.get((round, SignedKind.PROPOSAL))
        if isinstance(mine, Proposal):
            self._broadcast(mine)
        elif self.hs.valid_round >= 0 and self.hs.valid_id in self.hs.blocks:
            self._propose(self.hs.blocks[self.hs.valid_id], self.hs.valid_id, self.hs.valid_round)
        else:
            self._building = (self.height, round)
            self._emit(BuildBlock(self.height, round, self.last_commit))

    def _decide(self, block_id: bytes, round: int, commit: Commit | None = None) -> None:
        if commit is None:
            commit = make_commit(self.hs.votes.votes_for(round, VoteType.PRECOMMIT, block_id))
        self._decision = (block_id, round)
        self._commit = commit
        self._set_step(Step.COMMIT)
        self._emit(CommitBlock(self.height, self.hs.blocks[block_id], commit))
        delay = max(0, self._height_started + self.params.block_interval_ms - self._now)
        self._schedule(Timeout(self.height, round, Step.COMMIT), delay)

    # -- the rules -------------------------------------------------------------

    def _rules(self, r: int) -> None:
        """Apply every rule that now holds for round `r`, until none does."""
        hs = self.hs
        changed = True
        while changed and self.step != Step.COMMIT:
            changed = False
            decided = hs.votes.majority(r, VoteType.PRECOMMIT)
            if decided and hs.valid.get(decided):  # L49 (any round)
                self._decide(decided, r)
                return
            if r > self.round and hs.votes.round_power(r) * 3 > self.valset.total_power:
                self._start_round(r)  # L55: f+1 are in a later round
                changed = True
                continue
            if r != self.round:
                return
            changed = self._round_rules(r)

    def _round_rules(self, r: int) -> bool:
        hs = self.hs
        step = self.step
        proposal = hs.first.get(r)
        if step == Step.PROPOSE and proposal is not None:
            valid = hs.valid.get(proposal.block_id)
            vr = proposal.pol_round
            pol = vr >= 0 and hs.votes.majority(vr, VoteType.PREVOTE) == proposal.block_id
            if valid is not None and (vr == -1 or pol):
                free = hs.locked_round <= vr if pol else hs.locked_round == -1
                ok = valid and (free or hs.locked_id == proposal.block_id)  # L22, L28
                self._vote(VoteType.PREVOTE, proposal.block_id if ok else NIL)
                self._set_step(Step.PREVOTE)
                return True
        prevotes_in = hs.votes.has_quorum_any(r, VoteType.PREVOTE)
        if step == Step.PREVOTE and prevotes_in and self._once(r, "prevote_timeout"):  # L34
            self._schedule(Timeout(self.height, r, Step.PREVOTE), self._timeout(Step.PREVOTE))
        polka = hs.votes.majority(r, VoteType.PREVOTE)
        if step != Step.PROPOSE and polka and not self._done.get((r, "polka")):
            if hs.proposed_in(r, polka) and hs.valid.get(polka):  # L36
                self._done[(r, "polka")] = True
                hs.valid_round, hs.valid_id = r, polka
                if step == Step.PREVOTE:
                    hs.locked_round, hs.locked_id = r, polka
                    self._vote(VoteType.PRECOMMIT, polka)
                    self._set_step(Step.PRECOMMIT)
                    return True
        if step == Step.PREVOTE and polka == NIL:  # L44
            self._vote(VoteType.PRECOMMIT, NIL)
            self._set_step(Step.PRECOMMIT)
            return True
        if hs.votes.has_quorum_any(r, VoteType.PRECOMMIT) and self._once(r, "precommit_timeout"):
            self._schedule(Timeout(self.height, r, Step.PRECOMMIT), self._timeout(Step.PRECOMMIT))
        return False

    def _once(self, r: int, what: str) -> bool:
        if self._done.get((r, what)):
            return False
        self._done[(r, what)] = True
        return True

    # -- helpers -----------------------------------------------------------------

    def _take_proposal(self, p: Proposal) -> None:
        kept, conflict = self.hs.add_proposal(p)
        if conflict:
            self._emit(Misbehaviour(p.proposer, "conflicting_proposal"))
        if kept and p.block_id not in self.hs.valid:
            self.hs.valid[p.block_id] = None
            self._emit(CheckBlock(p.height, p.round, p.block, p.block_id))

    def _add_vote(self, v: Vote) -> bool:
        added, evidence = self.hs.votes.add(v)
        if evidence is not None:
            self._emit(EvidenceFound(evidence))
        return added in (Added.NEW, Added.CONFLICT)

    def _maybe_catch_up(self, periodic: bool = False) -> None:
        if self.step == Step.COMMIT or self._seen_height <= self.height:
            return
        last = self._catchup_at
        if last is None or (periodic and self._now - last >= self.params.gossip_ms):
            self._catchup_at = self._now
            self._emit(CatchUp(self.height))

    def _hold(self, m: Proposal | Vote, signer: bytes, msg: bytes, sig: bytes, ok: bool) -> None:
        self._check_sig(signer, msg, sig, ok)
        if m.height == self.height + 1:
            cap = self.params.future_msgs_per_validator * len(self.valset)
            if len(self._future) >= cap:
                self._future.popleft()
            self._future.append(m)
        if m.height > self._seen_height:
            self._seen_height = m.height
            self._maybe_catch_up()

    def _schedule(self, t: Timeout, delay_ms: int) -> None:
        self._emit(ScheduleTimeout(t, delay_ms))
