"""`agora bench ingest`: signed txs through mempool, block building, execution and commit."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agora.cli.bench import bench, dir_option, json_option, quick_option


@bench.command("ingest")
@json_option
@quick_option
@dir_option("SQLite files")
def ingest(as_json: bool, quick: bool, workdir: Path | None) -> None:
    """Measure ingest throughput against raw Ed25519 verification on all cores.

    The last line printed is one JSON object with verify_per_s, ingest_tx_per_s,
    ratio (ingest / verify), commit_ms_per_1000_tx and peak_rss_mb."""
    from agora.blockchain.bench import run

    def progress(msg: str) -> None:
        if not as_json:
            click.echo(f"… {msg}", err=True)

    result = run(quick=quick, workdir=workdir, progress=progress)
    if not as_json:
        r = result
        rows = [
            (f"raw Ed25519 verify, {r['cores']} cores", f"{r['verify_per_s']:,}/s"),
            ("  best moment of the run", f"{r['verify_per_s_best']:,}/s"),
            ("raw Ed25519 verify, 1 core", f"{r['verify_per_s_one_core']:,}/s"),
            ("ingest, verifying ahead in a process", f"{r['ingest_tx_per_s']:,} tx/s"),
            *(
                (f"  blocks of {size} txs", f"{rate:,} tx/s")
                for size, rate in r["ingest_tx_per_s_by_block_size"].items()
            ),
            ("  share verified ahead", f"{r['background_share']}"),
            ("ingest, verifying ahead on a thread", f"{r['ingest_tx_per_s_threads']:,} tx/s"),
            ("  share verified ahead", f"{r['background_share_threads']}"),
            ("ingest, each stage in turn", f"{r['ingest_tx_per_s_serial']:,} tx/s"),
            ("ratio ingest / verify", f"{r['ratio']}"),
            ("  on a thread / each in turn", f"{r['ratio_threads']} / {r['ratio_serial']}"),
            ("  against the best moment", f"{r['ratio_vs_best']}"),
            ("apply+commit per 1000 txs (FULL)", f"{r['commit_ms_per_1000_tx']} ms"),
            ("apply+commit per 1000 txs (NORMAL)", f"{r['commit_ms_per_1000_tx_sync_normal']} ms"),
            ("peak RSS", f"{r['peak_rss_mb']} MB"),
        ]
        for label, value in rows:
            click.echo(f"{label:<36}{value:>16}")
    click.echo(json.dumps(result))
