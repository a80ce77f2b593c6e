"""`agora bench devnet`: finalized tx/s and finality latency of a local 4-validator devnet."""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import click

from agora.cli.bench import bench, dir_option, json_option, quick_option


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM too: unwind, so the devnet is torn down


@bench.command("devnet")
@json_option
@quick_option
@click.option(
    "--duration",
    type=click.FloatRange(min=1.0, max=120.0),
    default=None,
    help="Seconds of load per step (default 10; 2.5 with --quick).",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(min=1.0, max=1_000_000.0),
    default=None,
    help="The highest rate tried, tx/s (default 16000).",
)
@click.option(
    "--start-rate",
    type=click.FloatRange(min=1.0, max=1_000_000.0),
    default=None,
    help="The first step's rate, tx/s (default 250); it doubles while sustained.",
)
@click.option(
    "--block-interval-ms",
    type=click.IntRange(0, 60_000),
    default=None,
    help="The validators' [consensus] block_interval_ms (default: the node's).",
)
@click.option("--keep", is_flag=True, help="Keep the node homes (logs, chains) afterwards.")
@dir_option("node homes")
def devnet_bench(
    as_json: bool,
    quick: bool,
    duration: float | None,
    max_rate: float | None,
    start_rate: float | None,
    block_interval_ms: int | None,
    keep: bool,
    workdir: Path | None,
) -> None:
    """Run 4 validators and a load generator over RPC at rising rates.

    The last line printed is one JSON object with finalized_tx_per_s,
    finality_ms_p50, finality_ms_p99, block_interval_ms_p50, peak_rss_mb,
    verify_per_s and ratio (finalized_tx_per_s * 4 / verify_per_s)."""
    from agora.bench_devnet.run import Options, run
    from agora.errors import AgoraError

    opts = Options.quick_run() if quick else Options()
    changes: dict[str, Any] = {
        "duration": duration,
        "max_rate": max_rate,
        "start_rate": start_rate,
        "block_interval_ms": block_interval_ms,
        "workdir": workdir,
        "keep": keep or None,
    }
    opts = replace(opts, **{k: v for k, v in changes.items() if v is not None})

    def progress(msg: str) -> None:
        if not as_json:
            click.echo(msg, err=True)

    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run(opts, progress)
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None
    finally:
        signal.signal(signal.SIGTERM, old)
    if not as_json:
        _table(result)
    click.echo(json.dumps(result))


def _table(r: dict[str, object]) -> None:
    head = f"{'asked/s':>9}{'sent/s':>10}{'final/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    head += f"{'block ms':>10}{'tx/block':>10}{'refused':>9}  sustained"
    click.echo(head)
    steps = r.get("steps")
    for s in steps if isinstance(steps, list) else []:
        refused = sum(s["refused"].values())
        click.echo(
            f"{s['rate']:>9g}{s['offered_tx_per_s']:>10.1f}{s['finalized_tx_per_s']:>10.1f}"
            f"{s['finality_ms_p50']:>9.0f}{s['finality_ms_p99']:>9.0f}"
            f"{s['block_interval_ms_p50']:>10.0f}{s['txs_per_block']:>10.1f}{refused:>9}"
            f"  {'yes' if s['sustained'] else 'no'}"
        )
    for key in ("finalized_tx_per_s", "finality_ms_p50", "finality_ms_p99",
                "block_interval_ms_p50", "peak_rss_mb", "verify_per_s", "ratio"):  # fmt: skip
        click.echo(f"{key:<24}{r[key]!s:>12}")
