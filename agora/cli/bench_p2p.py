"""`agora bench p2p`: the whole peer_net path against plain asyncio streams."""

from __future__ import annotations

import json

import click

from agora.cli.bench import bench, json_option, quick_option


@bench.command("p2p")
@json_option
@quick_option
def p2p(as_json: bool, quick: bool) -> None:
    """Measure peer_net throughput, round trip and handshakes against plain streams.

    The last line printed is one JSON object with p2p_msgs_per_s_256,
    plain_msgs_per_s_256, ratio_256, p2p_msgs_per_s_1024, plain_msgs_per_s_1024,
    ratio_1024, rtt_us_p50 and handshakes_per_s, then the gossip path
    (gossip_msgs_per_s_*, gossip_ratio_*) and hand-batched plain streams
    (plain_batched_msgs_per_s_*, ratio_batched_*). Rates are messages per CPU
    second of the process, which runs both ends."""
    from agora.peer_net.bench import run

    def progress(msg: str) -> None:
        if not as_json:
            click.echo(f"… {msg}", err=True)

    click.echo(json.dumps(run(quick=quick, progress=progress)))
