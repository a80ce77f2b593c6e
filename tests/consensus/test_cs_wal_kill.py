"""SIGKILL a validator with a real WAL many times: it must never sign two things for one slot."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = "agora.consensus_client.wal_crash_child"


def _run_once(home: Path, seed: int, rng: random.Random, no_wal: bool) -> list[str]:
    args = [sys.executable, "-m", CHILD, str(home), str(seed)] + (["--no-wal"] if no_wal else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        ready = proc.stdout.readline()
        if ready.strip() != "READY":
            proc.kill()
            _, err = proc.communicate(timeout=20)
            pytest.fail(f"child did not start: {ready!r} {err}")
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)
    assert proc.returncode == -signal.SIGKILL, err
    # A line cut by the kill is not a signature that left the node: only whole lines
    # (ended by a newline) with all six fields count.
    whole = out.split("\n")[:-1]
    return [line for line in whole if line.startswith("SIGNED ") and len(line.split()) == 6]


def _conflicts(lines: list[str]) -> tuple[dict[tuple[str, str, str], set[str]], int]:
    slots: dict[tuple[str, str, str], set[str]] = {}
    for line in lines:
        _, h, r, kind, block_id, _sig = line.split()
        slots.setdefault((h, r, kind), set()).add(block_id)
    bad = {k: v for k, v in slots.items() if len(v) > 1}
    return bad, len(slots)


def _kill_many(home: Path, runs: int, no_wal: bool, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [_run_once(home, rng.randrange(1 << 30), rng, no_wal) for _ in range(runs)]


@pytest.mark.slow
def test_sigkill_never_double_signs(tmp_path: Path) -> None:
    runs = _kill_many(tmp_path / "node", 32, no_wal=False, seed=int.from_bytes(os.urandom(4)))
    lines = [line for run in runs for line in run]
    bad, slots = _conflicts(lines)
    assert not bad, f"double-signed after a restart: {bad}"
    assert slots >= 30, "the child signed too little to test anything"
    # The log did its job only if restarts came back to slots signed before the kill.
    per_run = [{tuple(line.split()[1:4]) for line in run} for run in runs]
    revisited = sum(1 for a, b in itertools.pairwise(per_run) if a & b)
    assert revisited >= 3, "no restart resumed a slot it had signed: the test is too weak"
    assert (tmp_path / "node" / "wal").stat().st_size > 0


@pytest.mark.slow
def test_without_the_wal_the_same_harness_catches_double_signing(tmp_path: Path) -> None:
    rng_seed = 7
    runs = _kill_many(tmp_path / "node", 12, no_wal=True, seed=rng_seed)
    bad, _ = _conflicts([line for run in runs for line in run])
    assert bad, "a validator with no WAL should have signed twice for some slot"
