"""`agora init` writes a node's home; `agora node` runs it; `agora backup` and
`agora restore` copy its chain store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agora.cli import main
from agora.errors import AgoraError

if TYPE_CHECKING:
    from agora.backup import BackupInfo

HOME = click.Path(file_okay=False, path_type=Path)


@main.command("init")
@click.option("--home", required=True, type=HOME, help="The node's home directory.")
@click.option("--name", default=None, help="The node's name (default: the directory's).")
@click.option("--validator", is_flag=True, help="Make a validator key too.")
@click.option("--p2p", "p2p", default="127.0.0.1:26656", show_default=True, help="P2P listen.")
@click.option("--rpc", "rpc", default="127.0.0.1:26657", show_default=True, help="RPC listen.")
@click.option("--bootstrap", multiple=True, help="A peer to start from (repeatable).")
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Join this chain (default: a new dev chain with this node as its validator).",
)
@click.option("--chain-id", default="agora-dev", show_default=True, help="For a new dev chain.")
@click.option("--force", is_flag=True, help="Overwrite an existing home.")
def init(
    home: Path,
    name: str | None,
    validator: bool,
    p2p: str,
    rpc: str,
    bootstrap: tuple[str, ...],
    genesis_file: Path | None,
    chain_id: str,
    force: bool,
) -> None:
    """Write a node key (mode 0600), a config.toml and a genesis into HOME."""
    from agora.node_home import HomeSpec, init_home, read_genesis_file

    try:
        genesis = read_genesis_file(genesis_file) if genesis_file is not None else None
        spec = HomeSpec(name or home.resolve().name, p2p, rpc, list(bootstrap), validator)
        new = init_home(home, spec, genesis=genesis, chain_id=chain_id, force=force)
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None
    click.echo(f"node {spec.name} in {home}")
    click.echo(f"  node id   {new.node_key.hex}")
    if new.validator_key is not None:
        click.echo(f"  validator {new.validator_key.hex}")
    click.echo(f"  chain     {new.genesis.chain_id}")
    click.echo(f"  p2p {p2p}  rpc {rpc}")


@main.command("node")
@click.option("--home", required=True, type=HOME, help="The node's home directory.")
def node(home: Path) -> None:
    """Run the node in HOME until SIGTERM or Ctrl-C; logs are JSON lines on stderr."""
    from agora import lifeline, logs
    from agora.node import Node
    from agora.runtime import run

    lifeline.hold()
    try:
        n = Node(home)
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None
    logs.setup(n.config.node.log_level, sys.stderr)
    try:
        run(n.run())
    except AgoraError as e:  # say, the P2P port is taken
        raise click.ClickException(f"{e.message} [{e.code}]") from None


def _said(info: BackupInfo, verb: str) -> None:
    click.echo(
        f"{verb} {info.path}: height {info.height}, block {info.block_id.hex()[:16]}, "
        f"genesis {info.genesis_hash.hex()[:16]}, {info.bytes / 1e6:.1f} MB"
    )


@main.command("backup")
@click.option("--home", required=True, type=HOME, help="The node's home directory.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def backup_cmd(home: Path, out: Path) -> None:
    """Copy the chain store of HOME to OUT, consistent as of one block (the node may run)."""
    from agora.backup import backup

    try:
        _said(backup(home, out), "wrote")
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--home", required=True, type=HOME, help="A new home (from `agora init`).")
def restore_cmd(file: Path, home: Path) -> None:
    """Start a new home's chain from a backup FILE; it syncs the blocks after it."""
    from agora.backup import restore

    try:
        _said(restore(file, home), "restored")
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None
