"""A deterministic simulation of N validators' cores: one seed decides everything.

Virtual time runs on an event heap; the network applies the seed's `FaultPlan`;
a fake application builds, checks and commits blocks; block sync is a request
to a random peer for the decided block and commit, through the same faulty
network. After the run the checks in `sim_checks` say whether it was safe
and live.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

import nacl.signing

from agora.blockchain.votes import Validator, ValidatorSet
from agora.codec import sha256
from agora.consensus_client import actions as act
from agora.consensus_client.core import Core
from agora.consensus_client.sim_app import (
    CachedVerifier,
    Equivocator,
    FakeApp,
    block_id_of,
    block_ok,
    make_block,
)
from agora.consensus_client.sim_checks import Checker, SimResult
from agora.consensus_client.sim_faults import FaultPlan
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import ConsensusMsg, Decided, Proposal, Step, VoteMsg
from agora.consensus_client.wal import MemoryWal
from agora.errors import RemoteError

CHAIN_ID = "agora-sim"
MSG, TIMER, BUILT, CHECKED, COMMITTED, CRASH, RESTART, HEAL = range(8)
MAX_EVENTS = 400_000


@dataclass
class SimConfig:
    seed: int
    nodes: int = 4
    heights: int = 10
    powers: list[int] | None = None
    faults: bool = True
    params: ConsensusParams = field(default_factory=ConsensusParams)


@dataclass(frozen=True)
class SyncRequest:
    height: int


class SimNode:
    def __init__(self, idx: int, key: nacl.signing.SigningKey, power: int) -> None:
        self.idx = idx
        self.key = key
        self.pub = bytes(key.verify_key)
        self.power = power
        self.core: Core | None = None
        self.epoch = 0
        self.wal = MemoryWal()
        self.app = FakeApp()


class Simulation:
    def __init__(self, cfg: SimConfig, trace: list[str] | None = None) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        powers = cfg.powers or self._draw_powers(cfg.nodes)
        self.plan = FaultPlan.draw(self.rng, powers, cfg.faults)
        keys = [
            nacl.signing.SigningKey(sha256(b"agora-sim:%d:%d" % (cfg.seed, i)))
            for i in range(len(powers))
        ]
        self.nodes = [SimNode(i, k, p) for i, (k, p) in enumerate(zip(keys, powers, strict=True))]
        self.valset = ValidatorSet(Validator(n.pub, n.power) for n in self.nodes)
        self.verify = CachedVerifier()
        byz = self.plan.equivocator
        self.equivocator = (
            Equivocator(keys[byz], CHAIN_ID, self.rng, byz) if byz is not None else None
        )
        self.honest = [n for n in self.nodes if n.idx != byz]
        self.now = 0
        self.events = 0
        self._heap: list[tuple[int, int, int, int, int, Any]] = []
        self._seq = 0
        self.checker = Checker(self, trace)

    def _draw_powers(self, n: int) -> list[int]:
        if self.rng.random() < 0.7:
            return [1] * n
        return [self.rng.randint(1, 4) for _ in range(n)]

    # -- the event loop ---------------------------------------------------------

    def run(self) -> SimResult:
        for n in self.nodes:
            self._boot(n)
        for c in self.plan.crashes:
            self._push(c.at_ms, CRASH, c.node, 0, None)
            self._push(c.restart_ms, RESTART, c.node, 0, None)
        self._push(self.plan.heal_ms, HEAL, 0, 0, None)
        while self._heap and self.events < MAX_EVENTS:
            t, _, kind, i, epoch, payload = heapq.heappop(self._heap)
            if t > self.checker.deadline_ms:
                break
            self.now = t
            self.events += 1
            self._dispatch(kind, self.nodes[i], epoch, payload)
            if self.checker.finished:
                break
        return self.checker.result()

    def _push(self, at_ms: int, kind: int, node: int, epoch: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at_ms, self._seq, kind, node, epoch, payload))

    def _dispatch(self, kind: int, n: SimNode, epoch: int, payload: Any) -> None:
        if kind == HEAL:
            self.checker.healed()
        elif kind == CRASH:
            self.checker.note(f"crash n{n.idx}")
            n.core = None
            n.epoch += 1
        elif kind == RESTART:
            if n.core is None:
                self.checker.note(f"restart n{n.idx} at height {n.app.height + 1}")
                self._boot(n)
        elif n.core is None or (kind != MSG and epoch != n.epoch):
            return  # down, or an answer meant for an earlier life
        elif kind == MSG:
            self._deliver(n, n.core, *payload)
        elif kind == TIMER:
            self._run(n, n.core.on_timeout(payload, self.now))
        elif kind == BUILT:
            height, round, block = payload
            self._run(n, n.core.on_block_built(height, round, block, self.now))
        elif kind == CHECKED:
            height, round, block_id, ok = payload
            self._run(n, n.core.on_block_checked(height, round, block_id, ok, self.now))
        elif kind == COMMITTED:
            self._run(n, n.core.on_committed(payload, self.valset, self.now))

    def _boot(self, n: SimNode) -> None:
        last = n.app.blocks.get(n.app.height)
        n.core = Core(
            CHAIN_ID,
            self.valset,
            n.key,
            n.app.height + 1,
            self.cfg.params,
            n.wal.state,
            block_id_of,
            self.now,
            last_commit=last[1] if last else None,
            verify=self.verify,
        )
        self._run(n, n.core.start(self.now))

    def _deliver(self, n: SimNode, core: Core, src: int, msg: ConsensusMsg | SyncRequest) -> None:
        if isinstance(msg, SyncRequest):
            have = n.app.blocks.get(msg.height)
            if have is not None:
                self._send(n.idx, src, Decided(*have))
            return
        try:
            if isinstance(msg, VoteMsg):
                self.checker.before_vote(n, core, msg.vote)
                self._run(n, core.on_vote(msg.vote, self.now))
            elif isinstance(msg, Proposal):
                self._run(n, core.on_proposal(msg, self.now))
            elif isinstance(msg, Decided):
                self._run(n, core.on_decided(msg.block, msg.commit, self.now))
        except RemoteError as e:
            # Every simulated sender signs what it sends: a rejection is a bug.
            self.checker.fail(f"n{n.idx} rejected a message from n{src}: {e.code} {e.message}")

    # -- actions ------------------------------------------------------------------

    def _run(self, n: SimNode, actions: list[act.Action]) -> None:
        for a in actions:
            if isinstance(a, act.Broadcast):
                self._broadcast(n, a.msg)
            elif isinstance(a, act.ScheduleTimeout):
                self._push(self.now + a.delay_ms, TIMER, n.idx, n.epoch, a.timeout)
            elif isinstance(a, act.PersistSigned):
                n.wal.append(a.entry)
            elif isinstance(a, act.BuildBlock):
                # An invalid block makes its builder faulty for that round: only a
                # builder with less than a third of the power may be.
                faulty_ok = 3 * n.power < self.valset.total_power
                bad = self.rng.random() < self.plan.invalid_block and faulty_ok
                block = make_block(self.rng, a.height, n.idx, bad)
                reply = (a.height, a.round, block)
                self._push(self.now + self.rng.randint(1, 20), BUILT, n.idx, n.epoch, reply)
            elif isinstance(a, act.CheckBlock):
                ok = (a.height, a.round, a.block_id, block_ok(a.block, a.height))
                self._push(self.now + self.rng.randint(1, 10), CHECKED, n.idx, n.epoch, ok)
            elif isinstance(a, act.CommitBlock):
                self.checker.on_commit(n, a)
                n.app.commit(a.height, a.block, a.commit)
                self.checker.after_commit()
                delay = self.rng.randint(1, 20)
                self._push(self.now + delay, COMMITTED, n.idx, n.epoch, a.height)
            elif isinstance(a, act.EvidenceFound):
                self.checker.on_evidence(n, a.evidence.vote_a)
            elif isinstance(a, act.CatchUp):
                peer = self.rng.choice([p for p in range(len(self.nodes)) if p != n.idx])
                self._send(n.idx, peer, SyncRequest(a.height))

    def _broadcast(self, n: SimNode, msg: ConsensusMsg) -> None:
        self.checker.on_broadcast(n, msg)
        peers = [p for p in range(len(self.nodes)) if p != n.idx]
        if self.equivocator is not None and n.idx == self.equivocator.me:
            for p, m in self.equivocator.split(msg, peers):
                self._send(n.idx, p, m)
        else:
            for p in peers:
                self._send(n.idx, p, msg)

    def _send(self, src: int, dst: int, msg: ConsensusMsg | SyncRequest) -> None:
        plan = self.plan
        if plan.cut(src, dst, self.now) or self.rng.random() < plan.loss_at(self.now):
            return
        copies = 2 if self.rng.random() < plan.duplicate else 1
        for _ in range(copies):
            at = self.now + self.rng.randint(plan.delay_min_ms, plan.delay_max_ms)
            self._push(at, MSG, dst, 0, (src, msg))

    def current_round(self, n: SimNode) -> int:
        core = n.core
        return core.round if core is not None and core.step != Step.COMMIT else 0


def run_seed(
    seed: int,
    nodes: int = 4,
    heights: int = 10,
    powers: list[int] | None = None,
    trace: list[str] | None = None,
) -> SimResult:
    cfg = SimConfig(seed=seed, nodes=nodes, heights=heights, powers=powers)
    return Simulation(cfg, trace).run()
