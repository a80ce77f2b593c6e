"""What a step measured, from the blocks the bench saw committed.

`Watcher` follows `chain_subscribeBlocks` on one node: each block's arrival is
the finality time of the txs in it (submit → final, as the bench sees it).
`judge` turns one step's counts into a `StepResult`: finalized tx/s is the
step's txs final by `drain_s` after its last send, over the time it sent for;
a step is sustained when that is at least `KEEP_UP` of the rate asked for and
half its txs were final within `MAX_P50_MS` (a rate the chain only keeps up
with by letting a backlog grow is not sustained).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any

from agora.bench_devnet.client import BlockFeed
from agora.bench_devnet.load import Sent

KEEP_UP = 0.95
MAX_P50_MS = 1500.0  # 1.5 block intervals: the finality the issue asks for at that rate


@dataclass
class Seen:
    arrival: float
    height: int
    time_ms: int
    txs: int


@dataclass
class Watcher:
    pending: dict[str, tuple[int, float]] = field(default_factory=dict)  # hash -> (step, sent)
    final: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # (at, latency)
    blocks: list[Seen] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set at each block

    async def follow(self, feed: BlockFeed, until: float) -> None:
        pending, final = self.pending, self.final
        async for now, block in feed.blocks(until):
            self.arrived.set()
            self.blocks.append(Seen(now, block.height, block.time_ms, len(block.tx_hashes)))
            for h in block.tx_hashes:
                got = pending.pop(h, None)
                if got is not None:
                    step, sent = got
                    final.setdefault(step, []).append((now, now - sent))

    async def next_block(self, deadline: float) -> None:
        """Until the next block arrives, or the monotonic `deadline`."""
        self.arrived.clear()
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self.arrived.wait()
        except TimeoutError:
            pass

    def left(self, step: int) -> int:
        return sum(1 for s, _ in self.pending.values() if s == step)

    def last_height(self) -> int:
        return self.blocks[-1].height if self.blocks else 0


@dataclass
class StepResult:
    rate: float
    sent: int
    accepted: int
    refused: dict[str, int]
    offered_tx_per_s: float
    finalized: int
    finalized_tx_per_s: float
    finality_ms_p50: float
    finality_ms_p99: float
    block_interval_ms_p50: float
    txs_per_block: float
    blocks: int
    sustained: bool
    answer_ms_p50: float = 0.0  # a tx_submit batch's round trip (the node's admission)
    answer_ms_p99: float = 0.0
    # CPU of the 4 node processes from the step's first send to its end, per tx final
    # (the whole devnet's cost of a tx: far steadier than the rates on a shared machine)
    node_cpu_s: float = 0.0
    cpu_us_per_tx: float = 0.0
    load_cpu_us_per_tx: float = 0.0  # the bench process's own (sending, following blocks)
    # Share of the machine's CPU time the hypervisor gave to others during the step: a
    # step with much of it ran on a slower machine than the verify_per_s samples did.
    steal_pct: float = 0.0

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def judge(step: int, rate: float, sent: Sent, w: Watcher, drain_s: float) -> StepResult:
    """The step's figures, counting only what was final `drain_s` after its last send."""
    cutoff = sent.end + drain_s
    window = max(sent.end - sent.start, sent.planned_s, 1e-3)
    done = [(at, lat) for at, lat in w.final.get(step, []) if at <= cutoff]
    lats = [lat * 1000 for _, lat in done]
    p50 = statistics.median(lats) if lats else None
    answers = [x * 1000 for x in sent.answer_s]
    blocks = [b for b in w.blocks if sent.start <= b.arrival <= cutoff]
    # Each block's interval from the one before it, even if that one came before the
    # window (a short step may hold a single block).
    before = [b for b in w.blocks if b.arrival < sent.start][-1:]
    gaps = [b.time_ms - a.time_ms for a, b in itertools.pairwise(before + blocks)]
    finalized_rate = len(done) / window
    return StepResult(
        rate=rate,
        sent=sent.sent,
        accepted=sent.accepted,
        refused=dict(sent.refused),
        offered_tx_per_s=round(sent.sent / window, 1),
        finalized=len(done),
        finalized_tx_per_s=round(finalized_rate, 1),
        finality_ms_p50=round(p50, 1) if p50 is not None else 0.0,
        finality_ms_p99=round(_pct(lats, 0.99), 1),
        block_interval_ms_p50=float(statistics.median(gaps)) if gaps else 0.0,
        txs_per_block=round(sum(b.txs for b in blocks) / len(blocks), 1) if blocks else 0.0,
        blocks=len(blocks),
        sustained=finalized_rate >= KEEP_UP * rate and p50 is not None and p50 <= MAX_P50_MS,
        answer_ms_p50=round(_pct(answers, 0.5), 1),
        answer_ms_p99=round(_pct(answers, 0.99), 1),
    )


def with_cpu(
    r: StepResult, node_cpu_s: float, load_cpu_s: float, steal_share: float = 0.0
) -> StepResult:
    """`r` with the CPU the nodes and the load generator used during the step."""
    n = max(1, r.finalized)
    return replace(
        r,
        node_cpu_s=round(node_cpu_s, 2),
        cpu_us_per_tx=round(node_cpu_s * 1e6 / n, 1),
        load_cpu_us_per_tx=round(load_cpu_s * 1e6 / n, 1),
        steal_pct=round(100 * steal_share, 1),
    )


# Bisection stops when the failed rate is within this factor of the sustained one.
CLOSE_ENOUGH = 1.08


def next_rate(done: list[StepResult], max_rate: float, refines_left: int) -> float | None:
    """Double while sustained (up to `max_rate`); after a failure, bisect between the best
    sustained rate and the lowest failed one while `refines_left`; None: stop."""
    if not done:
        return None
    bad = [s.rate for s in done if not s.sustained]
    if not bad:
        last = done[-1].rate
        return min(last * 2, max_rate) if last < max_rate else None
    if refines_left <= 0:
        return None
    hi = min(bad)
    lo = max((s.rate for s in done if s.sustained and s.rate < hi), default=0.0)
    if lo == 0:
        return hi / 2 if hi >= 2 else None
    if hi / lo < CLOSE_ENOUGH:
        return None
    return float(round((lo + hi) / 2))
