"""The consensus actor: the node's shell around the sans-IO `Core`, and block sync.

    actor = ConsensusActor(ConsensusSetup(...), events=..., replies=..., to_net=..., to_chain=...)
    await actor.run()        # until stop()

Inputs: consensus packets from peer_net (PROPOSAL, VOTE, EVIDENCE; checked by
`inbound.check_packet`, relayed once checked, then fed to the core), the
blockchain actor's replies (blocks built, checked, committed, and the answers
to sync requests), the core's timers, and a tick (status polls, sync).

Modes:

- `starting`: until peers said where they are (or `startup_grace_s` passed);
- `syncing`: more than `sync_gap` heights behind a peer: no core runs; blocks
  and their commits are fetched from several peers (`sync.py`), checked against
  the validator set and committed in order; then a core starts at the new tip;
- `running`: a `CoreShell` drives the core. A height the core is one behind
  on (`CatchUp`) is fetched the same way and handed to `Core.on_decided`.

A full node runs the same with no key: it never signs.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import nacl.signing

from agora.blockchain.messages import (
    BlockBuilt,
    BlockChecked,
    BlockCommitted,
    ChainReply,
    ChainRequest,
    CommitBlockReq,
    CommitFailed,
)
from agora.blockchain.votes import DuplicateVoteEvidence, ValidatorSet, Vote
from agora.blockchain.wire import header_id
from agora.consensus_client.core import Core
from agora.consensus_client.inbound import check_packet
from agora.consensus_client.outbox import Outbox
from agora.consensus_client.outputs import CoreOutputs
from agora.consensus_client.progress import SyncProgress
from agora.consensus_client.shell import CoreShell
from agora.consensus_client.sync import BlockSync, SyncParams
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import Proposal, Timeout, msg_codec
from agora.consensus_client.wal import Wal
from agora.errors import LocalError, RemoteError
from agora.logs import Log
from agora.peer_net.messages import (
    Broadcast,
    Inbound,
    NetCommand,
    NetEvent,
    PeerDown,
    PeerUp,
    Penalize,
    RequestFailed,
    Response,
)
from agora.rpc.metrics import Metrics
from agora.spsc import ChannelClosed, EndOfChannel, Receiver, Sender

T = TypeVar("T")
TICK_S = 0.1
_log = Log("agora.consensus.actor")


class Mode(StrEnum):
    STARTING = "starting"
    SYNCING = "syncing"
    RUNNING = "running"


@dataclass
class ConsensusSetup:
    chain_id: str
    valset: ValidatorSet
    key: nacl.signing.SigningKey | None
    params: ConsensusParams
    wal: Wal
    height: int  # the chain's last stored height
    max_block_bytes: int
    sync: SyncParams = field(default_factory=SyncParams)
    sync_gap: int = 3  # this far behind a peer: stop consensus and sync
    startup_grace_s: float = 1.0
    progress: SyncProgress | None = None
    metrics: Metrics | None = None


class ConsensusActor:
    name = "consensus"

    def __init__(
        self,
        setup: ConsensusSetup,
        *,
        events: Receiver[NetEvent],
        replies: Receiver[ChainReply],
        to_net: Sender[NetCommand],
        to_chain: Sender[ChainRequest],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.s = setup
        self.events = events
        self.replies = replies
        self.net = Outbox(to_net)
        self.chain = Outbox(to_chain)
        self.clock = clock
        self.codec = msg_codec(setup.max_block_bytes)
        self.height = setup.height  # stored by the chain
        self.mode = Mode.STARTING
        self.shell: CoreShell | None = None
        self.sync = BlockSync(setup.chain_id, setup.valset, setup.height, setup.sync)
        self.out = CoreOutputs(self.net, self.chain, setup.key, self.sync, clock)
        self._early: deque[tuple[Proposal | Vote, bytes]] = deque(maxlen=4096)
        self._due: deque[tuple[CoreShell, Timeout]] = deque()
        self._wake_timers = asyncio.Event()
        self._stopped = asyncio.Event()
        self._began = clock()

    # --- running ---

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                pumps = [tg.create_task(self.net.pump()), tg.create_task(self.chain.pump())]
                async with asyncio.TaskGroup() as inner:
                    inner.create_task(self._drain(self.events, self._on_net))
                    inner.create_task(self._drain(self.replies, self._on_reply))
                    inner.create_task(self._ticks())
                    inner.create_task(self._timers())
                for p in pumps:
                    p.cancel()
        finally:
            self._drop_core()
            self.s.wal.close()
            if self.s.progress is not None:
                self.s.progress.close()
            self.net.close()
            self.chain.close()
            _log.info("consensus_stopped", height=self.height)

    def stop(self) -> None:
        self._stopped.set()
        self._wake_timers.set()
        self.events.close()
        self.replies.close()

    async def _drain(self, rx: Receiver[T], handle: Callable[[T], None]) -> None:
        try:
            while True:
                for item in await rx.receive_many(256):
                    handle(item)
                self._after()
        except (EndOfChannel, ChannelClosed):
            self.stop()

    async def _ticks(self) -> None:
        while not self._stopped.is_set():
            self._tick()
            await _wait_for(self._stopped.wait(), TICK_S)

    async def _timers(self) -> None:
        while not self._stopped.is_set():
            await self._wake_timers.wait()
            self._wake_timers.clear()
            while self._due and not self._stopped.is_set():
                shell, t = self._due.popleft()
                if shell is self.shell and not shell.closed:
                    shell.timeout(t)
            self._after()

    def _fire(self, shell: CoreShell, t: Timeout) -> None:
        self._due.append((shell, t))
        self._wake_timers.set()

    # --- modes ---

    def _tick(self) -> None:
        now = self.clock()
        sync = self.sync
        sync.expire(now)
        for r in sync.status_requests(now, None if self.mode != Mode.RUNNING else 2.0):
            self.net.put(r)
        behind = sync.target() - self.height
        if self.mode == Mode.STARTING:
            heard = any(h >= 0 for h in sync.peer_heights().values())
            if behind >= self.s.sync_gap:
                self._enter_sync()
            elif heard or now - self._began >= self.s.startup_grace_s:
                self._start_core()
        elif self.mode == Mode.RUNNING and behind >= self.s.sync_gap:
            self._enter_sync()
        self._after()

    def _enter_sync(self) -> None:
        _log.info("sync_mode", height=self.height, target=self.sync.target())
        self._drop_core()
        self.mode = Mode.SYNCING

    def _sync_step(self) -> None:
        sync = self.sync
        for r in sync.block_requests(self.clock()):
            self.net.put(r)
        for h, ready in sync.to_commit():
            self.chain.put(CommitBlockReq(h, ready.block, ready.commit))
        if self.s.progress is not None:
            self.s.progress.update(self.height, sync.target())
        if sync.idle() and sync.target() <= self.height + 1:
            self._start_core()

    def _start_core(self) -> None:
        s = self.s
        core = Core(
            s.chain_id, s.valset, s.key, self.height + 1, s.params, s.wal.state, header_id,
            self._now_ms(),
        )  # fmt: skip
        self.shell = shell = CoreShell(core, s.wal, self.out, self._now_ms, self._fire)
        self.mode = Mode.RUNNING
        _log.info("consensus_started", height=core.height, validator=s.key is not None)
        shell.start()
        early, self._early = list(self._early), deque(maxlen=self._early.maxlen)
        for msg, peer in early:
            self._feed(msg, peer)

    def _drop_core(self) -> None:
        if self.shell is not None:
            self.shell.close()
            self.shell = None
        self._due.clear()

    def _after(self) -> None:
        """After each batch of inputs: catch-up and sync work that the inputs made ready."""
        shell = self.shell
        if self.mode == Mode.SYNCING:
            self._sync_step()
        elif shell is not None and self.out.want is not None:
            want = self.out.want
            if want != shell.height:
                self.out.want = None
            elif (ready := self.sync.take(want)) is not None:
                self.out.want = None
                try:
                    shell.decided(ready.block, ready.commit)
                except RemoteError as e:
                    self._penalize(ready.peer, e)
            else:
                for r in self.sync.block_requests(self.clock(), upto=want):
                    self.net.put(r)
        m = self.s.metrics
        if m is not None:
            m.round.set(shell.core.round if shell is not None else 0)
            m.peers.set(len(self.sync.peers))

    # --- peer_net ---

    def _on_net(self, ev: NetEvent) -> None:
        if isinstance(ev, Inbound):
            try:
                msg = check_packet(ev.code, ev.body, self.s.chain_id, self.s.valset, self.codec)
            except RemoteError as e:
                self._penalize(ev.peer_id, e)
                return
            if isinstance(msg, DuplicateVoteEvidence):
                self.out.evidence_in(msg, ev)
                return
            if msg.height > self.height:  # not old: worth passing on
                self.net.put(Broadcast(ev.code, ev.body, exclude=ev.peer_id))
            self._feed(msg, ev.peer_id)
        elif isinstance(ev, PeerUp):
            self.sync.peer_up(ev.peer_id)
            for r in self.sync.status_requests(self.clock()):
                self.net.put(r)
        elif isinstance(ev, PeerDown):
            self.sync.peer_down(ev.peer_id)

    def _feed(self, msg: Any, peer: bytes) -> None:
        shell = self.shell
        if shell is None:
            if msg.height > self.height:
                self._early.append((msg, peer))
            return
        try:
            shell.feed(msg, peer)
        except RemoteError as e:
            self._penalize(peer, e)

    def _penalize(self, peer: bytes, e: RemoteError) -> None:
        _log.info("peer_misbehaved", peer=peer.hex()[:16], code=e.code, error=e.message)
        if e.penalty > 0:
            self.net.put(Penalize(peer, e.code, e.penalty))

    # --- the blockchain's replies ---

    def _on_reply(self, msg: ChainReply) -> None:
        shell = self.shell
        if isinstance(msg, BlockCommitted):
            self.height = max(self.height, msg.height)
            self.sync.on_committed(msg.height)
            if shell is not None:
                shell.committed(msg.height)
        elif isinstance(msg, BlockChecked):
            if shell is not None:
                shell.checked(msg.height, msg.round, msg.block_id, msg.valid)
        elif isinstance(msg, BlockBuilt):
            if shell is not None:
                shell.built(msg.height, msg.round, msg.block)
        elif isinstance(msg, CommitFailed):
            self._commit_failed(msg)
        elif isinstance(msg, Response):
            try:
                self.sync.on_response(msg.req_id, msg.peer_id, msg.body)
            except RemoteError as e:
                self._penalize(msg.peer_id, e)
        elif isinstance(msg, RequestFailed):
            self.sync.on_failed(msg.req_id)

    def _commit_failed(self, msg: CommitFailed) -> None:
        sender = self.sync.on_commit_failed(msg.height)
        if sender is not None:
            self._penalize(sender, RemoteError(msg.message, code="bad_synced_block", penalty=100))
            return
        shell = self.shell
        if shell is not None and shell.height == msg.height:
            # +2/3 of the validators decided a block our chain refuses: we diverged.
            raise LocalError(
                f"the chain refused decided block {msg.height}: {msg.code} {msg.message}",
                code="state_diverged",
            )

    # --- status ---

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def status(self) -> dict[str, Any]:
        shell = self.shell
        core = shell.core if shell is not None else None
        key = self.s.key
        return {
            "validator": key is not None,
            "validator_key": bytes(key.verify_key).hex() if key is not None else "",
            "round": core.round if core is not None else 0,
            "consensus": {
                "mode": self.mode.value,
                "height": core.height if core is not None else self.height + 1,
                "round": core.round if core is not None else 0,
                "step": core.step.name.lower() if core is not None else "",
            },
            "sync": {
                "target": self.sync.target(),
                "synced": self.sync.synced,
                "peers": {p.hex(): h for p, h in self.sync.peer_heights().items()},
            },
            "evidence": {v.hex(): n for v, n in self.out.equivocations.items()},
            "misbehaviour": dict(self.out.misbehaved),
        }


async def _wait_for(aw: Awaitable[Any], seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await aw
    except TimeoutError:
        pass
