"""`agora sim`: run the deterministic consensus simulation over many seeds."""

from __future__ import annotations

import time

import click

from agora.cli import main
from agora.consensus_client.sim import run_seed
from agora.consensus_client.sim_checks import SimResult


def _powers(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        powers = [int(p) for p in value.split(",")]
    except ValueError:
        raise click.BadParameter("a comma-separated list of integers, e.g. 1,1,1,2") from None
    if any(p <= 0 for p in powers):
        raise click.BadParameter("powers must be positive")
    return powers


@main.command()
@click.option("--seeds", default=100, show_default=True, help="How many seeds to run.")
@click.option("--start", default=0, show_default=True, help="The first seed.")
@click.option("--nodes", default=4, show_default=True, help="Validators (ignored with --powers).")
@click.option("--heights", default=10, show_default=True, help="Heights to commit at least.")
@click.option("--powers", default=None, help="Voting powers, e.g. 1,1,1,2 (default: per seed).")
@click.option("--verbose", is_flag=True, help="Print each run's fault plan and event trace.")
def sim(
    seeds: int, start: int, nodes: int, heights: int, powers: str | None, verbose: bool
) -> None:
    """Simulate validators on a faulty network; check safety and liveness per seed."""
    if seeds < 1 or nodes < 1 or heights < 1:
        raise click.BadParameter("--seeds, --nodes and --heights must be at least 1")
    power_list = _powers(powers)
    if power_list is not None:
        nodes = len(power_list)
    failed: list[SimResult] = []
    began = time.perf_counter()
    worst = 0.0
    recovery: list[float] = []
    for seed in range(start, start + seeds):
        trace: list[str] | None = [] if verbose else None
        t0 = time.perf_counter()
        r = run_seed(seed, nodes, heights, power_list, trace)
        worst = max(worst, time.perf_counter() - t0)
        if r.recovery_ms >= 0 and r.bound_ms:
            recovery.append(r.recovery_ms / r.bound_ms)
        if verbose:
            click.echo(f"seed {seed}: {r.plan}")
            for line in trace or []:
                click.echo(f"  {line}")
            click.echo(_line(r))
        if not r.ok:
            failed.append(r)
            click.echo(f"FAIL seed {seed}: {r.failures[0]}", err=True)
            click.echo(f"  replay: {r.replay_command()}", err=True)
    took = time.perf_counter() - began
    click.echo(
        f"{seeds - len(failed)}/{seeds} seeds passed in {took:.1f}s "
        f"(slowest {worst * 1000:.0f}ms; recovery after heal at most "
        f"{max(recovery, default=0.0):.0%} of its bound)"
    )
    if failed:
        raise SystemExit(1)


def _line(r: SimResult) -> str:
    rounds = ", ".join(f"r{k}:{v}" for k, v in sorted(r.rounds.items()))
    return (
        f"seed {r.seed}: {'ok' if r.ok else 'FAIL'} heights={r.committed} "
        f"virtual={r.virtual_ms}ms events={r.events} equivocations={r.equivocations} "
        f"evidence={r.evidence} recovery={r.recovery_ms}ms/{r.bound_ms}ms "
        f"decided-in=[{rounds}] digest={r.digest}"
    )
