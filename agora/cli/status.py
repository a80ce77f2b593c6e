"""`agora status`: what a node says of itself and its chain, in one table."""

from __future__ import annotations

import time

from rich.table import Table

from agora.cli import main
from agora.social.cli_common import client, handles_errors, rpc_option
from agora.social.render import console


@main.command("status")
@rpc_option
@handles_errors
def status(rpc_url: str | None) -> None:
    """The node's chain (height, last block's age, validators), sync state and peers."""
    rpc = client(rpc_url)
    chain = rpc.call("chain_status")
    net = rpc.call("net_info")
    peers = rpc.call("net_peers")
    age_s = max(0.0, time.time() - chain["time_ms"] / 1000)
    t = Table(title=f"{net['name']} · {rpc.url}", show_header=False)
    t.add_row("chain", chain["chain_id"])
    t.add_row("height", f"{chain['height']:,}  (last block {age_s:,.1f} s ago)")
    t.add_row("block", chain["block_id"])
    t.add_row("state root", chain["state_root"])
    t.add_row("syncing", "yes" if chain["catching_up"] else "no")
    t.add_row("validators", f"{len(chain['validators'])} (total power {chain['total_power']})")
    t.add_row("mempool", f"{chain['mempool_size']:,} txs")
    t.add_row("node", f"{net['node_id']}  agora {net['version']}")
    t.add_row("listen", "  ".join(f"{k} {v}" for k, v in sorted(net["listen"].items())))
    c, bans = net["peers"], net["bans"]
    t.add_row("peers", f"{c['total']} ({c['inbound']} in, {c['outbound']} out), {bans} banned")
    console().print(t)
    if peers:
        pt = Table("peer", "address", "dir", "rtt ms", "score", title="peers")
        for p in peers:
            rtt = "" if p["rtt_ms"] is None else f"{p['rtt_ms']:.1f}"
            direction = "in" if p["inbound"] else "out"
            pt.add_row(p["id"][:16], p["listen"] or p["addr"], direction, rtt, f"{p['score']:.0f}")
        console().print(pt)
