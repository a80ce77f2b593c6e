"""`agora bench devnet`: a quick run prints the JSON last; Ctrl-C tears the devnet down;
the ramp and the verdict of a step, without processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agora.bench_devnet.load import Sent
from agora.bench_devnet.net import machine_ticks
from agora.bench_devnet.steps import (
    MAX_P50_MS,
    Seen,
    StepResult,
    Watcher,
    judge,
    next_rate,
    with_cpu,
)

KEYS = (
    "finalized_tx_per_s",
    "finality_ms_p50",
    "finality_ms_p99",
    "block_interval_ms_p50",
    "peak_rss_mb",
    "verify_per_s",
    "ratio",
)


def _nodes_of(root: Path) -> list[int]:
    """Pids of processes whose command line names a home under `root`."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b" node --home " in cmd and str(root).encode() in cmd:
            out.append(int(pid))
    return out


@pytest.mark.e2e
def test_quick_run_prints_the_result_last_and_leaves_nothing_behind(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agora", "bench", "devnet", "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    doc = json.loads(lines[-1])
    for k in KEYS:
        assert isinstance(doc[k], int | float) and doc[k] > 0, (k, doc)
    assert doc["nodes"] == 4 and isinstance(doc["sustained"], bool)
    assert abs(doc["ratio"] - doc["finalized_tx_per_s"] * 4 / doc["verify_per_s"]) < 0.002
    assert doc["finality_ms_p99"] >= doc["finality_ms_p50"]
    assert sorted(doc["peak_rss_mb_by_node"]) == ["node0", "node1", "node2", "node3"]
    # every validator checked every committed tx's signature exactly once
    assert doc["verifies_per_tx_by_node"] == {f"node{i}": 1.0 for i in range(4)}
    steps = doc["steps"]
    assert [s["rate"] for s in steps] == [10, 20]
    for s in steps:  # every tx sent was accepted; some became final (no speed asserted)
        assert s["sent"] == s["accepted"] > 0 and s["refused"] == {}
        assert 0 < s["finalized"] <= s["accepted"] and s["blocks"] > 0
    assert any("sustained" in line for line in lines)  # the table came first
    assert list(tmp_path.iterdir()) == [] and _nodes_of(tmp_path) == []


@pytest.mark.e2e
def test_an_interrupted_run_stops_every_node(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agora", "bench", "devnet", "--quick", "--duration", "20",
         "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(_nodes_of(tmp_path)) < 4 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert len(_nodes_of(tmp_path)) == 4
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert _nodes_of(tmp_path) == [] and list(tmp_path.iterdir()) == []


def _step(rate: float, ok: bool) -> StepResult:
    return StepResult(rate, 0, 0, {}, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, ok)


def test_the_ramp_doubles_then_bisects_then_stops() -> None:
    assert next_rate([_step(250, True)], 16_000, 2) == 500
    assert next_rate([_step(8000, True)], 10_000, 2) == 10_000
    assert next_rate([_step(10_000, True)], 10_000, 2) is None
    done = [_step(250, True), _step(500, True), _step(1000, False)]
    assert next_rate(done, 16_000, 2) == 750
    assert next_rate([*done, _step(750, True)], 16_000, 1) == 875
    assert next_rate([*done, _step(750, False)], 16_000, 1) == 625
    assert next_rate(done, 16_000, 0) is None
    assert next_rate([_step(250, False)], 16_000, 1) == 125
    assert next_rate([_step(1000, True), _step(1070, False)], 16_000, 2) is None  # close enough
    assert next_rate([_step(2500, True), _step(3000, False)], 16_000, 2) == 2750


def test_a_step_counts_only_what_was_final_in_time() -> None:
    w = Watcher()
    sent = Sent(sent=100, accepted=98, refused={"mempool_full": 2}, start=10.0, end=20.0)
    sent.planned_s = 10.0
    w.final[0] = [(11.0 + i * 0.1, 0.5 + (i % 10) / 10) for i in range(90)]  # 0.5 .. 1.4 s
    w.final[0] += [(30.0, 9.0)] * 8  # final after the drain window: not counted
    w.blocks = [Seen(10.5 + i, i + 1, 1000 * i, 9) for i in range(10)]
    r = judge(0, 10.0, sent, w, drain_s=3.0)
    assert (r.finalized, r.finalized_tx_per_s, r.offered_tx_per_s) == (90, 9.0, 10.0)
    assert r.sustained is False  # 9.0 < 0.95 * 10
    assert r.finality_ms_p50 == 950.0 and r.finality_ms_p99 == 1400.0  # median of 0.9 and 1.0
    assert (r.block_interval_ms_p50, r.blocks, r.txs_per_block) == (1000.0, 10, 9.0)
    w.blocks = [Seen(9.0, 7, 5000, 0), Seen(12.0, 8, 6200, 9)]  # one block in the window
    assert judge(0, 10.0, sent, w, drain_s=3.0).block_interval_ms_p50 == 1200.0
    r2 = judge(0, 9.4, sent, w, drain_s=3.0)
    assert r2.sustained is True


def test_a_step_whose_finality_drifts_past_the_bound_is_not_sustained() -> None:
    w = Watcher()
    sent = Sent(sent=100, accepted=100, start=10.0, end=20.0)
    sent.planned_s = 10.0
    w.final[0] = [(12.0 + i * 0.1, 1.2 + i / 100) for i in range(100)]  # 1.2 .. 2.19 s
    r = judge(0, 10.0, sent, w, drain_s=3.0)
    assert r.finalized == 100 and r.finality_ms_p50 > MAX_P50_MS
    assert r.sustained is False  # every tx final, but a backlog grew
    w.final[0] = [(12.0 + i * 0.1, 0.5 + i / 100) for i in range(100)]  # 0.5 .. 1.49 s
    assert judge(0, 10.0, sent, w, drain_s=3.0).sustained is True


def test_steps_report_the_cpu_the_hypervisor_stole() -> None:
    total, stolen = machine_ticks()
    assert total > 0 and 0 <= stolen <= total  # Linux: /proc/stat is there
    r = with_cpu(_step(100, True), node_cpu_s=2.0, load_cpu_s=0.1, steal_share=0.123)
    assert r.steal_pct == 12.3 and r.row()["steal_pct"] == 12.3
