"""The deterministic simulation: many seeds must be safe and live, and the checks must bite."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from agora.cli import main
from agora.consensus_client import votes_set
from agora.consensus_client.core import Core
from agora.consensus_client.sim import SimConfig, Simulation, run_seed

SEEDS = 200


@pytest.mark.parametrize("seed", range(SEEDS))
def test_seed_is_safe_and_live(seed: int) -> None:
    r = run_seed(seed)
    assert r.ok, f"{r.failures}\nfaults: {r.plan}\nreplay with: {r.replay_command()}"
    assert r.committed >= 10
    assert 0 <= r.recovery_ms <= r.bound_ms


def test_runs_with_given_powers_and_more_nodes() -> None:
    for seed in range(3):
        r = run_seed(seed, powers=[3, 1, 2, 2, 1, 1, 4])
        assert r.ok, f"{r.failures} replay with: {r.replay_command()}"
        assert "--powers 3,1,2,2,1,1,4" in r.replay_command()
        assert r.nodes == 7


def test_the_equivocator_is_caught() -> None:
    caught = 0
    for seed in range(10):
        r = run_seed(seed)
        if r.equivocations:
            caught += r.evidence > 0
    assert caught >= 4


def test_a_seed_replays_exactly() -> None:
    a, b = run_seed(1234), run_seed(1234)
    assert a.digest == b.digest and a.events == b.events and a.virtual_ms == b.virtual_ms
    assert run_seed(1235).digest != a.digest


def test_the_replay_does_not_depend_on_hash_randomization() -> None:
    code = "from agora.consensus_client.sim import run_seed; print(run_seed(77).digest)"
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert digests == {run_seed(77).digest}


# -- the checks can fail --------------------------------------------------------------


def test_safety_check_catches_a_fork() -> None:
    def forks(seed: int) -> bool:
        sim = Simulation(SimConfig(seed=seed, powers=[1, 1, 1, 1]))
        sim.valset.quorum = 2  # half the power "decides": partitions now fork the chain
        return any("SAFETY" in f for f in sim.run().failures)

    assert any(forks(seed) for seed in range(30))


def test_liveness_check_catches_a_node_that_cannot_catch_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Core, "_maybe_catch_up", lambda self, periodic=False: None)
    # In seed 1 nodes fall behind (loss, a crash): without block sync they stay behind.
    assert any("LIVENESS" in f for f in run_seed(1, heights=4).failures)


def test_evidence_check_catches_a_node_that_stays_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    real_add = votes_set.HeightVoteSet.add

    def quiet(self: votes_set.HeightVoteSet, vote: object) -> object:
        added, _ = real_add(self, vote)  # type: ignore[arg-type]
        return added, None

    monkeypatch.setattr(votes_set.HeightVoteSet, "add", quiet)
    assert any("no evidence" in f for seed in range(20) for f in run_seed(seed, heights=4).failures)


# -- the command ------------------------------------------------------------------------


def test_agora_sim_command() -> None:
    result = CliRunner().invoke(main, ["sim", "--seeds", "3", "--start", "40"])
    assert result.exit_code == 0, result.output
    assert "3/3 seeds passed" in result.output


def test_agora_sim_prints_the_replay_command_of_a_failing_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Core, "_maybe_catch_up", lambda self, periodic=False: None)
    result = CliRunner().invoke(main, ["sim", "--seeds", "1", "--start", "1", "--heights", "4"])
    assert result.exit_code == 1
    assert "replay: agora sim --seeds 1 --start " in result.output
    assert "--verbose" in result.output


def test_agora_sim_verbose_shows_the_trace() -> None:
    result = CliRunner().invoke(main, ["sim", "--seeds", "1", "--start", "3", "--verbose"])
    assert result.exit_code == 0, result.output
    assert "decided in round" in result.output and "digest=" in result.output
