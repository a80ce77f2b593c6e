"""`agora genesis …`: assemble a real network's genesis file and install it in homes."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from agora.cli import main
from agora.errors import AgoraError

if TYPE_CHECKING:
    from agora.blockchain.genesis import Genesis

FILE = click.Path(dir_okay=False, path_type=Path)
HOME = click.Path(file_okay=False, exists=True, path_type=Path)
T = TypeVar("T")


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except AgoraError as e:
        raise click.ClickException(f"{e.message} [{e.code}]") from None


def _pair(text: str, what: str) -> tuple[bytes, int]:
    """`HEX=N` (or `HEX:N`) as a key and a number."""
    from agora.genesis_tool import parse_key

    key, sep, num = text.replace(":", "=").partition("=")
    if not sep or not num.isdigit():
        raise click.BadParameter(f"{text!r}: expected HEX=NUMBER", param_hint=what)
    return parse_key(key, what), int(num)


def _validator_key(key: str | None, home: Path | None) -> bytes:
    from agora.genesis_tool import home_validator_key, parse_key

    if (key is None) == (home is None):
        raise click.UsageError("give either a KEY or --home (a validator's home)")
    return home_validator_key(home) if home is not None else parse_key(key or "", "KEY")


@main.group("genesis")
def genesis() -> None:
    """Assemble a network's genesis: validators, balances; then install it in each home.

    \b
    Each validator: agora init --home DIR --validator   (prints its validator key)
    One of you:     agora genesis new genesis.json --chain-id NAME --validator KEY=10 ...
    Each validator: agora genesis install genesis.json --home DIR; agora node --home DIR
    """


@genesis.command("new")
@click.argument("file", type=FILE)
@click.option("--chain-id", required=True, help="The network's name (a-z, 0-9, _ . -).")
@click.option("--validator", "validators", multiple=True, help="KEY=POWER (repeatable).")
@click.option(
    "--validator-home",
    "homes",
    multiple=True,
    type=HOME,
    help="A validator's home: its key, with power 10 (repeatable).",
)
@click.option("--balance", "balances", multiple=True, help="ADDRESS=AMOUNT (repeatable).")
@click.option("--start-ms", type=int, default=None, help="Genesis time, ms since 1970 (now).")
@click.option("--force", is_flag=True, help="Overwrite FILE.")
def new(
    file: Path,
    chain_id: str,
    validators: tuple[str, ...],
    homes: tuple[Path, ...],
    balances: tuple[str, ...],
    start_ms: int | None,
    force: bool,
) -> None:
    """Write a new genesis FILE (no faucet: nobody holds tokens you did not give)."""
    from agora.blockchain.genesis import save_genesis
    from agora.genesis_tool import home_validator_key, new_genesis

    if file.exists() and not force:
        raise click.ClickException(f"{file} exists (use --force to overwrite)")
    if not validators and not homes:
        raise click.UsageError("a chain needs a --validator KEY=POWER or a --validator-home")
    g = _run(
        lambda: new_genesis(
            chain_id,
            [_pair(v, "--validator") for v in validators]
            + [(home_validator_key(h), 10) for h in homes],
            [_pair(b, "--balance") for b in balances],
            genesis_time_ms=start_ms,
        )
    )
    save_genesis(g, file)
    _show(file)


def _edit(file: Path, change: Callable[[Genesis], Genesis]) -> None:
    from agora.blockchain.genesis import save_genesis
    from agora.node_home import read_genesis_file

    g = _run(lambda: read_genesis_file(file))
    save_genesis(_run(lambda: change(g)), file)
    _show(file)


@genesis.command("add-validator")
@click.argument("file", type=FILE)
@click.argument("key", required=False)
@click.option("--home", type=HOME, default=None, help="Take the key from this home.")
@click.option("--power", type=click.IntRange(1), default=10, show_default=True)
def add_validator_cmd(file: Path, key: str | None, home: Path | None, power: int) -> None:
    """Add a validator (KEY in hex, or the one in --home) to FILE."""
    from agora.genesis_tool import add_validator

    k = _run(lambda: _validator_key(key, home))
    _edit(file, lambda g: add_validator(g, k, power))


@genesis.command("remove-validator")
@click.argument("file", type=FILE)
@click.argument("key")
def remove_validator_cmd(file: Path, key: str) -> None:
    """Remove the validator KEY from FILE."""
    from agora.genesis_tool import parse_key, remove_validator

    k = _run(lambda: parse_key(key, "KEY"))
    _edit(file, lambda g: remove_validator(g, k))


@genesis.command("add-balance")
@click.argument("file", type=FILE)
@click.argument("address")
@click.argument("amount", type=click.IntRange(1))
def add_balance_cmd(file: Path, address: str, amount: int) -> None:
    """Give ADDRESS (an account's public key, hex) AMOUNT tokens at the start."""
    from agora.genesis_tool import add_balance, parse_key

    a = _run(lambda: parse_key(address, "ADDRESS"))
    _edit(file, lambda g: add_balance(g, a, amount))


@genesis.command("install")
@click.argument("file", type=FILE)
@click.option("--home", type=HOME, required=True, help="A home made by `agora init`.")
def install(file: Path, home: Path) -> None:
    """Make FILE the genesis of the node in --home (before it has run any chain)."""
    from agora.genesis_tool import install_genesis
    from agora.node_home import read_genesis_file

    g = _run(lambda: read_genesis_file(file))
    _run(lambda: install_genesis(g, home))
    click.echo(f"installed {g.chain_id} ({g.hash().hex()[:16]}) in {home}")


@genesis.command("show")
@click.argument("file", type=FILE)
def show(file: Path) -> None:
    """Print FILE's chain id, hash, start time, validators and balances."""
    _show(file)


def _show(file: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from agora.genesis_tool import has_dev_faucet
    from agora.node_home import read_genesis_file

    g = _run(lambda: read_genesis_file(file))
    start = datetime.datetime.fromtimestamp(g.genesis_time / 1000, datetime.UTC)
    console = Console(highlight=False)
    console.print(f"[bold]{g.chain_id}[/bold]  {file}")
    console.print(f"  hash   {g.hash().hex()}")
    console.print(f"  start  {start:%Y-%m-%d %H:%M:%S} UTC")
    if has_dev_faucet(g):
        console.print("  [yellow]funds the well-known devnet faucet key: not for a real network")
    table = Table("validator key", "power", title="validators", title_justify="left")
    for v in g.validators:
        table.add_row(v.pub_key.hex(), str(v.power))
    console.print(table)
    if g.balances:
        bt = Table("address", "amount", title="balances", title_justify="left")
        for b in g.balances:
            bt.add_row(b.address.hex(), f"{b.amount:,}")
        console.print(bt)
