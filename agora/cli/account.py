"""`agora account new | show | send | fund`: keys in an encrypted keystore, transfers, and
the devnet faucet."""

from __future__ import annotations

from pathlib import Path

import click
import nacl.signing
from rich.table import Table

from agora.blockchain.core_module import Transfer
from agora.blockchain.genesis import FAUCET_LABEL, dev_signing_key
from agora.cli import main
from agora.errors import LocalError
from agora.social import keystore
from agora.social.cli_common import (
    actor,
    client,
    default_keystore,
    handles_errors,
    keystore_option,
    passphrase,
    passphrase_option,
    public_key,
    rpc_option,
)
from agora.social.client import Actor
from agora.social.render import console, result_table


@main.group()
def account() -> None:
    """Your account: its key file, its state on the chain, devnet funds."""


@account.command("new")
@keystore_option
@passphrase_option
@click.option("--force", is_flag=True, help="Replace an existing keystore.")
@click.option("--iterations", default=keystore.ITERATIONS, hidden=True, type=int)
@handles_errors
def new(
    keystore_path: Path | None, passphrase_file: Path | None, force: bool, iterations: int
) -> None:
    """Make a new key, kept in a keystore encrypted with a passphrase."""
    path = keystore_path or default_keystore()
    if path.exists() and not force:
        raise LocalError(f"{path} exists (use --force to replace it)", code="keystore_exists")
    key = nacl.signing.SigningKey.generate()
    keystore.save(
        path, keystore.encrypt(key, passphrase(passphrase_file, confirm=True), iterations)
    )
    t = Table(title="new account", show_header=False)
    t.add_row("key", bytes(key.verify_key).hex())
    t.add_row("keystore", str(path))
    console().print(t)


@account.command("show")
@click.argument("who", required=False)
@rpc_option
@keystore_option
@handles_errors
def show(who: str | None, rpc_url: str | None, keystore_path: Path | None) -> None:
    """Balance, nonce, quota and handle of an account (yours by default)."""
    st = client(rpc_url).call("social_getAccount", {"account": who or public_key(keystore_path)})
    t = Table(title="account", show_header=False)
    for k in ("key", "handle", "balance", "nonce", "quota"):
        t.add_row(k, str(st[k]))
    console().print(t)


@account.command("send")
@click.argument("to")
@click.argument("amount", type=click.IntRange(1))
@rpc_option
@keystore_option
@passphrase_option
@handles_errors
def send(
    to: str,
    amount: int,
    rpc_url: str | None,
    keystore_path: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Send AMOUNT tokens to TO (@handle or 64-hex key)."""
    me = actor(rpc_url, keystore_path, passphrase_file)
    # A handle is resolved now, so the transfer names the key that owns it at this moment.
    dest = me.client.call("social_getAccount", {"account": to})["key"]
    res = me.send("transfer", Transfer(bytes.fromhex(dest), amount))
    console().print(result_table(f"send {amount} to {to}", res))
    if res.get("code") not in ("ok", "pending"):
        raise SystemExit(1)


@account.command("fund")
@click.option("--amount", default=10_000, show_default=True, type=click.IntRange(1))
@click.option("--to", "to", default=None, help="A 64-hex key (default: your account).")
@rpc_option
@keystore_option
@handles_errors
def fund(amount: int, to: str | None, rpc_url: str | None, keystore_path: Path | None) -> None:
    """Send tokens from the devnet faucet (its key is well known: devnets only)."""
    dest = bytes.fromhex(to or public_key(keystore_path))
    faucet = Actor(client(rpc_url), dev_signing_key(FAUCET_LABEL))
    res = faucet.send("transfer", Transfer(dest, amount))
    console().print(result_table(f"fund {amount}", res))
    if res.get("code") not in ("ok", "pending"):
        raise SystemExit(1)


__all__ = ["account"]
