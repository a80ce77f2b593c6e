"""`agora bench devnet`: 4 validators on this machine, load over RPC at rising rates.

    result = run(Options.full(), progress=print)    # the dict printed as the last line

Per step: sign the step's txs (not measured), send them at the step's rate
over every node's RPC, and count what became final (`steps.judge`). The rate
doubles while the chain keeps up, then is bisected between the last sustained
and the first failed rate. The best sustained step gives `finalized_tx_per_s`
and its finality latencies; `verify_per_s` is raw Ed25519 verification on all
cores in the same run (before the devnet starts and after it stops; the best
sample is the limit, so a busy machine errs towards a low `ratio`). Every
validator verifies every tx once, hence `ratio = finalized * 4 / verify_per_s`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agora import runtime
from agora.bench_devnet.client import BlockFeed, HttpRpc
from agora.bench_devnet.load import Accounts, Sent, drive
from agora.bench_devnet.net import CHAIN_ID, BenchNet, machine_ticks
from agora.bench_devnet.steps import StepResult, Watcher, judge, next_rate, with_cpu
from agora.blockchain.bench import measure_verify

Progress = Callable[[str], None]
READY_TIMEOUT_S = 90.0
CLEAR_TIMEOUT_S = 30.0
MAX_STEPS = 16
STATUS_WAIT_S = 1.5


@dataclass(frozen=True)
class Options:
    duration: float = 10.0  # seconds of load per step
    start_rate: float = 250.0
    max_rate: float = 16_000.0
    refine: int = 4  # bisections after the first failed step
    nodes: int = 4
    conns_per_node: int = 4
    accounts: int = 512
    drain_s: float = 3.0  # a step's txs must be final this long after its last send
    verify_sample: int = 20_000
    block_interval_ms: int | None = None  # None: the node's default
    workdir: Path | None = None
    keep: bool = False  # leave the node homes (logs, chains) behind for a look
    quick: bool = False

    @classmethod
    def quick_run(cls, **kw: Any) -> Options:
        base = cls(duration=2.5, start_rate=10, max_rate=20, refine=0, accounts=32,
                   drain_s=3.0, verify_sample=400, quick=True)  # fmt: skip
        return replace(base, **kw)


@dataclass
class Outcome:
    steps: list[StepResult]
    rss: dict[str, float]
    seconds: float
    peers: list[int] = field(default_factory=list)  # each node's peers when the load began
    # signatures each node checked per tx committed: 1.0 is every tx verified once
    verifies_per_tx: dict[str, float] = field(default_factory=dict)


def run(opts: Options, progress: Progress = lambda s: None) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    accounts = Accounts(opts.accounts, opts.nodes, opts.conns_per_node)
    progress("raw verification (before)")
    items = accounts.verify_sample(CHAIN_ID, opts.verify_sample)
    samples = [measure_verify(items, cores)]
    root = Path(tempfile.mkdtemp(prefix="agora-bench-devnet-", dir=opts.workdir))
    try:
        progress(f"starting {opts.nodes} validators in {root}")
        with BenchNet(root, nodes=opts.nodes, load_keys=accounts.pubs,
                      block_interval_ms=opts.block_interval_ms) as net:  # fmt: skip
            peers = net.wait_ready(READY_TIMEOUT_S)
            if min(peers) < opts.nodes - 1:
                progress(f"not a full mesh after waiting: peers per node {peers}")
            outcome = runtime.run(_steps(net, accounts, opts, progress))
            outcome.peers = peers
    finally:
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    progress("raw verification (after)")
    samples.append(measure_verify(items, cores))
    return _result(opts, outcome, samples, cores)


def _best(steps: list[StepResult]) -> StepResult | None:
    ok = [s for s in steps if s.sustained]
    pool = ok or steps
    return max(pool, key=lambda s: s.finalized_tx_per_s) if pool else None


def _result(opts: Options, out: Outcome, samples: list[float], cores: int) -> dict[str, Any]:
    best = _best(out.steps)
    verify = max(samples)
    rate = best.finalized_tx_per_s if best else 0.0
    return {
        "finalized_tx_per_s": rate,
        "finality_ms_p50": best.finality_ms_p50 if best else 0.0,
        "finality_ms_p99": best.finality_ms_p99 if best else 0.0,
        "block_interval_ms_p50": best.block_interval_ms_p50 if best else 0.0,
        "peak_rss_mb": round(max(out.rss.values(), default=0.0), 1),
        "verify_per_s": round(verify),
        "ratio": round(rate * opts.nodes / verify, 3) if verify else 0.0,
        "sustained": bool(best and best.sustained),
        "sustained_rate": best.rate if best else 0.0,
        "steal_pct": best.steal_pct if best else 0.0,  # of the machine's CPU, in that step
        "peak_rss_mb_by_node": {k: round(v, 1) for k, v in sorted(out.rss.items())},
        "verify_per_s_samples": [round(x) for x in samples],
        "cores": cores,
        "nodes": opts.nodes,
        "peers_per_node": out.peers,
        "verifies_per_tx_by_node": out.verifies_per_tx,
        "step_s": opts.duration,
        "steps": [s.row() for s in out.steps],
        "seconds": round(out.seconds, 1),
        "quick": opts.quick,
    }


async def _steps(net: BenchNet, accounts: Accounts, opts: Options, progress: Progress) -> Outcome:
    began = time.monotonic()
    addrs = net.rpc_addrs
    control = [await HttpRpc.open(a) for a in addrs]
    conns = [await HttpRpc.open(addrs[accounts.slot_node(s)]) for s in range(accounts.n_slots)]
    feed = await BlockFeed.open(addrs[0])
    watcher = Watcher()
    horizon = time.monotonic() + MAX_STEPS * (opts.duration * 3 + CLEAR_TIMEOUT_S + 30)
    try:
        async with asyncio.TaskGroup() as tg:
            follower = tg.create_task(watcher.follow(feed, horizon))
            steps = await _ramp(net, accounts, opts, progress, control, conns, watcher)
            await asyncio.sleep(STATUS_WAIT_S)  # the nodes' status.json catch up
            follower.cancel()
    finally:
        for c in [*control, *conns]:
            c.close()
        feed.close()
    committed = sum(b.txs for b in watcher.blocks)
    verified = net.sigs_verified()
    per_tx = {k: round(v / committed, 3) for k, v in verified.items()} if committed else {}
    return Outcome(steps, net.sample_rss(), time.monotonic() - began, verifies_per_tx=per_tx)


async def _ramp(
    net: BenchNet,
    accounts: Accounts,
    opts: Options,
    progress: Progress,
    control: list[HttpRpc],
    conns: list[HttpRpc],
    watcher: Watcher,
) -> list[StepResult]:
    steps: list[StepResult] = []
    rate: float | None = opts.start_rate
    refines = opts.refine
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        while rate is not None and len(steps) < MAX_STEPS:
            net.check_alive()
            if steps and not steps[-1].sustained:
                refines -= 1
            await accounts.resync(control)
            progress(f"step {len(steps) + 1}: signing {rate:g} tx/s for {opts.duration:g} s")
            load = await loop.run_in_executor(
                None, accounts.sign_step, CHAIN_ID, rate, opts.duration, pool
            )
            result = await _one_step(net, len(steps), rate, load, conns, watcher, opts)
            steps.append(result)
            progress(_line(result))
            net.sample_rss()
            if not await _cleared(len(steps) - 1, watcher, control):
                progress("the backlog did not clear: stopping")
                break
            rate = next_rate(steps, opts.max_rate, refines)
    return steps


async def _one_step(
    net: BenchNet,
    step: int,
    rate: float,
    load: Any,
    conns: list[HttpRpc],
    w: Watcher,
    opts: Options,
) -> StepResult:
    cpu0, own0, ticks0 = net.cpu_seconds(), time.process_time(), machine_ticks()
    sent = Sent()
    per_conn = rate / len(conns)
    t0 = time.monotonic() + 0.05
    sent.start = t0
    sent.planned_s = load.total / rate
    hard_end = t0 + opts.duration * 1.5 + 2
    async with asyncio.TaskGroup() as tg:
        for conn, slot in zip(conns, load.slots, strict=True):
            tg.create_task(drive(conn, slot, per_conn, t0, hard_end, w.pending, step, sent))
    cutoff = sent.end + opts.drain_s
    while time.monotonic() < cutoff and w.left(step) > 0:
        await w.next_block(cutoff)
    result = judge(step, rate, sent, w, opts.drain_s)
    (all0, stolen0), (all1, stolen1) = ticks0, machine_ticks()
    steal = (stolen1 - stolen0) / (all1 - all0) if all1 > all0 else 0.0
    return with_cpu(result, net.cpu_seconds() - cpu0, time.process_time() - own0, steal)


async def _cleared(step: int, w: Watcher, control: list[HttpRpc]) -> bool:
    """Wait (bounded) until the step's txs are final and every mempool is empty."""
    deadline = time.monotonic() + CLEAR_TIMEOUT_S
    while time.monotonic() < deadline:
        if w.left(step) == 0:
            sizes = [(await c.call("chain_status"))["mempool_size"] for c in control]
            if not any(sizes):
                return True
        await asyncio.sleep(0.25)
    return False


def _line(s: StepResult) -> str:
    refused = sum(s.refused.values())
    return (
        f"  {s.rate:>7g} tx/s asked: sent {s.offered_tx_per_s:>8.1f}/s, final "
        f"{s.finalized_tx_per_s:>8.1f}/s, p50 {s.finality_ms_p50:>6.0f} ms, p99 "
        f"{s.finality_ms_p99:>6.0f} ms, block {s.block_interval_ms_p50:>5.0f} ms, "
        f"{s.txs_per_block:>6.0f} tx/block, answers p50 {s.answer_ms_p50:.0f} ms, "
        f"refused {refused}, CPU {s.cpu_us_per_tx:.0f} µs/tx (load {s.load_cpu_us_per_tx:.0f}),"
        f" steal {s.steal_pct:.0f}%"
        f"{'' if s.sustained else '  (not sustained)'}"
    )
