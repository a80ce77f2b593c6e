"""`agora devnet`: N node processes on loopback that find each other from one bootstrap node."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from agora.cli import main
from agora.errors import AgoraError

if TYPE_CHECKING:
    from agora.devnet import Supervisor

POLL_S = 0.5


@main.command("devnet")
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("devnet"),
    show_default=True,
    help="Where the node homes and nodes.json live.",
)
@click.option("--nodes", "count", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--reset", is_flag=True, help="Start a new chain: delete DIR's devnet first.")
@click.option(
    "--base-port",
    type=click.IntRange(0, 65000),
    default=26656,
    show_default=True,
    help="Node i gets p2p base+10i and rpc base+10i+1; 0 picks free ports.",
)
@click.option("--duration", type=click.FloatRange(min=0), default=None, help="Stop after S s.")
def devnet(root: Path, count: int, reset: bool, base_port: int, duration: float | None) -> None:
    """Start (or resume) a local network and watch it until Ctrl-C."""
    from agora import devnet as dn

    manifest = root / "nodes.json"
    try:
        if reset and root.exists():
            if not manifest.exists() and any(root.iterdir()):
                raise click.ClickException(f"{root} is not a devnet directory; not deleting it")
            if busy := dn.homes_in_use(root):
                names = ", ".join(p.name for p in busy)
                raise click.ClickException(f"the devnet in {root} is still running: {names}")
            shutil.rmtree(root)  # a damaged nodes.json is no reason to keep it
        if manifest.exists():
            nodes = dn.load_nodes(manifest)
            if running := dn.still_running(nodes):
                names = ", ".join(f"{n.name} (pid {n.pid})" for n in running)
                raise click.ClickException(f"already running: {names}")
            click.echo(f"resuming the devnet in {root} ({len(nodes)} nodes)")
        else:
            root.mkdir(parents=True, exist_ok=True)
            nodes = dn.create(root, count, base_port)
            click.echo(f"created a devnet of {count} nodes in {root}")
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None
    sys.exit(_watch(dn.Supervisor(nodes, manifest), duration))


def _watch(sup: Supervisor, duration: float | None) -> int:
    from agora import devnet as dn
    from agora.cli.devnet_view import View

    stop: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    view = View(sup.nodes)
    code = 0
    try:
        sup.start()
        for node in sup.nodes:
            click.echo(f"{node.name}: pid {node.pid}, p2p {node.p2p}, rpc {node.rpc}, {node.home}")
        if sup.nodes and sup.nodes[0].rpc:
            click.echo(f"web client: http://{sup.nodes[0].rpc}/   (Ctrl-C stops the devnet)")
        deadline = None if duration is None else time.monotonic() + duration
        while not stop and (deadline is None or time.monotonic() < deadline):
            view.poll({n.name: dn.read_status(n.home) for n in sup.nodes})
            for node, rc in sup.dead():
                if view.report_dead(node.name):
                    click.echo(f"{node.name} exited with code {rc}; the end of its log:")
                    click.echo(dn.log_tail(node.home))
            if len(sup.dead()) == len(sup.nodes):
                click.echo("every node has stopped")
                code = 1
                break
            time.sleep(POLL_S)
    finally:
        view.close()
        click.echo("stopping the devnet…")
        sup.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
    click.echo("stopped")
    return code
