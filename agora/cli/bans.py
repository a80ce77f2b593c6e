"""`agora bans --home DIR`: a node's peer bans, and lifting them (node stopped)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from agora.cli import main
from agora.config import Home
from agora.errors import AgoraError
from agora.home_lock import HomeLock
from agora.peer_net.bans import FILE, Ban, BanList
from agora.social.render import console


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(bans: list[Ban]) -> Table:
    t = Table("node", "ip", "reason", "since", "until", title="bans")
    for b in bans:
        node = b.peer_id.hex()[:16] if b.peer_id is not None else ""
        t.add_row(node, b.ip or "", b.reason, _when(b.since), _when(b.until))
    return t


@main.command("bans")
@click.option("--home", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--lift", "target", default=None, help="Lift the bans of a node id (8+ hex digits) or an IP."
)
@click.option("--lift-all", is_flag=True, help="Lift every ban.")
def bans(home: Path, target: str | None, lift_all: bool) -> None:
    """List the peers HOME's node has banned; lift bans (the node must be stopped)."""
    if target is not None and lift_all:
        raise click.UsageError("--lift or --lift-all, not both")
    now = time.time()
    try:
        path = Home(home).require().p2p / FILE
        if target is None and not lift_all:  # reading is safe while the node runs
            found = BanList(path, now).bans(now)
            if found:
                console().print(_table(found))
            else:
                click.echo("no bans")
            return
        lock = HomeLock.acquire(home)  # a running node owns the file: stop it first
        try:
            lifted = BanList(path, now).lift(target, now)
        finally:
            lock.release()
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None
    click.echo(f"lifted {len(lifted)} ban{'' if len(lifted) == 1 else 's'}")
