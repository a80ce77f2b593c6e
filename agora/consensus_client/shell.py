"""`CoreShell`: one running `Core`, fed events and with its actions carried out in order.

The consensus actor owns one shell while it takes part in consensus and drops
it to sync (a new one starts at the new height, on the same WAL). The shell:

- runs every action the core returns in order: `PersistSigned` is appended to
  the WAL and fsynced before the next action, which is the `Broadcast` of what
  it records;
- keeps timers: a fired timeout is queued and handled by the actor's task, so
  an error in the core ends the actor instead of vanishing in a callback;
- skips the block-interval wait of a decided height when signed messages from
  a later height were seen: others have moved on, so waiting only keeps this
  node one height behind for good;
- holds verified messages the core cannot use yet (a height past the next, or a
  proposal more than two rounds ahead) and replays them when it can.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from agora.blockchain.votes import Commit, DuplicateVoteEvidence, Vote
from agora.consensus_client import actions as act
from agora.consensus_client.core import Core
from agora.consensus_client.types import EvidenceMsg, Proposal, Step, Timeout, VoteMsg
from agora.consensus_client.wal import Wal
from agora.errors import RemoteError
from agora.logs import Log
from agora.peer_net.handlers import AppCode

MAX_STASH = 4096
MAX_HEIGHTS_AHEAD = 64
_log = Log("agora.consensus.shell")

Msg = Proposal | Vote


class Outputs(Protocol):
    """What the shell needs from the actor around it."""

    def broadcast(self, code: int, msg: Proposal | VoteMsg | EvidenceMsg) -> None: ...

    def build(self, a: act.BuildBlock) -> None: ...

    def check(self, a: act.CheckBlock) -> None: ...

    def commit(self, a: act.CommitBlock) -> None: ...

    def evidence(self, ev: DuplicateVoteEvidence) -> None: ...

    def misbehaviour(self, validator: bytes, code: str) -> None: ...

    def catch_up(self, height: int) -> None: ...


class CoreShell:
    def __init__(
        self,
        core: Core,
        wal: Wal,
        out: Outputs,
        clock_ms: Callable[[], int],
        fire: Callable[[CoreShell, Timeout], None],
    ) -> None:
        self.core = core
        self.wal = wal
        self.out = out
        self.clock_ms = clock_ms
        self._fire = fire
        self._timers: set[asyncio.TimerHandle] = set()
        self._stash: list[tuple[Msg, bytes | None]] = []
        self.max_seen = core.height - 1  # highest height of a verified message seen
        self.closed = False
        self._replaying = False

    @property
    def height(self) -> int:
        return self.core.height

    def start(self) -> None:
        self._run(self.core.start(self.clock_ms()))

    def close(self) -> None:
        self.closed = True
        for t in self._timers:
            t.cancel()
        self._timers.clear()

    # --- events (RemoteError propagates: the caller penalizes the sender) ---

    def feed(self, msg: Msg, peer: bytes | None) -> bool:
        """A message whose signature was checked; False if it is for a past height."""
        core = self.core
        self.max_seen = max(self.max_seen, msg.height)
        if msg.height < core.height:
            return False
        if self._later(msg):
            self._hold(msg, peer)
            return True
        where = (core.height, core.round)
        if isinstance(msg, Proposal):
            self._run(core.on_proposal(msg, self.clock_ms(), verified=True))
        else:
            self._run(core.on_vote(msg, self.clock_ms(), verified=True))
        if (core.height, core.round) != where and not self._replaying:
            self.replay()
        return True

    def _later(self, msg: Msg) -> bool:
        core = self.core
        if msg.height > core.height + 1:
            return True
        ahead = isinstance(msg, Proposal) and msg.round > core.round + 2
        return msg.height == core.height and ahead

    def _hold(self, msg: Msg, peer: bytes | None) -> None:
        if msg.height > self.core.height + MAX_HEIGHTS_AHEAD:
            return
        self._stash.append((msg, peer))
        if len(self._stash) > MAX_STASH:
            del self._stash[: len(self._stash) - MAX_STASH]

    def replay(self) -> None:
        """Feed the held messages the core can take now (dropping the stale ones)."""
        if self._replaying:
            return
        self._replaying = True
        try:
            for _ in range(MAX_HEIGHTS_AHEAD):  # each pass may move the core on again
                stash, self._stash = self._stash, []
                if not stash:
                    return
                where = (self.core.height, self.core.round)
                for msg, peer in stash:
                    try:
                        self.feed(msg, peer)
                    except RemoteError as e:  # checked late (say, the round's proposer)
                        _log.debug("held_message_refused", code=e.code, height=msg.height)
                if (self.core.height, self.core.round) == where:
                    return
        finally:
            self._replaying = False

    def decided(self, block: bytes, commit: Commit) -> None:
        self._run(self.core.on_decided(block, commit, self.clock_ms()))
        self.replay()

    def built(self, height: int, round: int, block: bytes) -> None:
        self._run(self.core.on_block_built(height, round, block, self.clock_ms()))

    def checked(self, height: int, round: int, block_id: bytes, valid: bool) -> None:
        self._run(self.core.on_block_checked(height, round, block_id, valid, self.clock_ms()))

    def committed(self, height: int) -> bool:
        """The chain stored `height`; False if the core was not waiting for it."""
        core = self.core
        if core.height != height or core.step != Step.COMMIT:
            return False
        self._run(core.on_committed(height, core.valset, self.clock_ms()))
        self.replay()
        return True

    def timeout(self, t: Timeout) -> None:
        where = (self.core.height, self.core.round)
        self._run(self.core.on_timeout(t, self.clock_ms()))
        if (self.core.height, self.core.round) != where:
            self.replay()

    # --- actions, in order ---

    def _run(self, actions: list[act.Action]) -> None:
        out, wal = self.out, self.wal
        for a in actions:
            if isinstance(a, act.PersistSigned):
                wal.append(a.entry, sync=False)
            elif isinstance(a, act.Broadcast):
                wal.sync()  # one fsync for the entries before it, and before it leaves
                msg = a.msg
                if isinstance(msg, Proposal):
                    out.broadcast(AppCode.PROPOSAL, msg)
                elif isinstance(msg, VoteMsg):
                    out.broadcast(AppCode.VOTE, msg)
                elif isinstance(msg, EvidenceMsg):
                    out.broadcast(AppCode.EVIDENCE, msg)
            elif isinstance(a, act.ScheduleTimeout):
                self._schedule(a.timeout, a.delay_ms)
            elif isinstance(a, act.BuildBlock):
                out.build(a)
            elif isinstance(a, act.CheckBlock):
                out.check(a)
            elif isinstance(a, act.CommitBlock):
                out.commit(a)
            elif isinstance(a, act.EvidenceFound):
                out.evidence(a.evidence)
            elif isinstance(a, act.Misbehaviour):
                out.misbehaviour(a.validator, a.code)
            elif isinstance(a, act.CatchUp):
                out.catch_up(a.height)
        wal.sync()

    def _schedule(self, t: Timeout, delay_ms: int) -> None:
        if t.step == Step.COMMIT and self.max_seen > t.height:
            delay_ms = 0  # others are past this height already: do not fall behind
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def due() -> None:
            self._timers.discard(handle)
            if not self.closed:
                self._fire(self, t)

        handle = loop.call_later(delay_ms / 1000, due)
        self._timers.add(handle)
