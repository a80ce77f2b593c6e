"""What the account and social CLI commands share: options, the keystore, errors."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import nacl.signing

from agora.errors import AgoraError, LocalError
from agora.social import keystore
from agora.social.bodies import Target
from agora.social.client import Actor, RpcClient, default_rpc
from agora.social.render import console

F = TypeVar("F", bound=Callable[..., Any])
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def default_keystore() -> Path:
    env = os.environ.get("AGORA_KEYSTORE")
    return Path(env) if env else Path.home() / ".agora" / "keystore.json"


rpc_option = click.option(
    "--rpc", "rpc_url", default=None, metavar="URL",
    help="The node's JSON-RPC URL (default: $AGORA_RPC, else node0 of ./devnet, else "
    "http://127.0.0.1:26657).",
)  # fmt: skip
keystore_option = click.option(
    "--keystore", "keystore_path", type=click.Path(dir_okay=False, path_type=Path),
    default=None, help="The key file (default: $AGORA_KEYSTORE or ~/.agora/keystore.json).",
)  # fmt: skip
passphrase_option = click.option(
    "--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None, help="Read the passphrase from this file (else $AGORA_PASSPHRASE, else ask).",
)  # fmt: skip


def passphrase(path: Path | None, *, confirm: bool = False) -> str:
    if path is not None:
        try:
            return path.read_bytes().decode("utf-8").rstrip("\n")
        except UnicodeDecodeError:
            msg = f"{path}: a passphrase file is UTF-8 text"
            raise LocalError(msg, code="bad_passphrase") from None
        except OSError as e:
            raise LocalError(f"cannot read {path}: {e.strerror}", code="bad_passphrase") from None
    env = os.environ.get("AGORA_PASSPHRASE")
    if env is not None:
        return env
    return str(click.prompt("passphrase", hide_input=True, confirmation_prompt=confirm))


def client(rpc_url: str | None) -> RpcClient:
    return RpcClient(rpc_url or default_rpc())


def signing_key(
    keystore_path: Path | None, passphrase_file: Path | None
) -> nacl.signing.SigningKey:
    path = keystore_path or default_keystore()
    return keystore.decrypt(keystore.load(path), passphrase(passphrase_file))


def public_key(keystore_path: Path | None) -> str:
    """Our account's key, without asking for the passphrase."""
    doc = keystore.load(keystore_path or default_keystore())
    pub = doc.get("pub_key")
    if not isinstance(pub, str) or not _HEX64.fullmatch(pub):
        raise keystore._bad("pub_key must be 32 bytes of hex")
    return pub.lower()


def actor(rpc_url: str | None, keystore_path: Path | None, passphrase_file: Path | None) -> Actor:
    return Actor(client(rpc_url), signing_key(keystore_path, passphrase_file))


def target(account: str) -> Target:
    """`@handle` (resolved when the tx executes) or a 64-hex-digit key."""
    a = account.strip()
    if len(a) == 64:
        try:
            return Target(bytes.fromhex(a))
        except ValueError:
            pass
    return Target(b"", a.removeprefix("@").lower())


def post_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise click.BadParameter("a post id is 64 hex digits")
    return raw


def handles_errors(fn: F) -> F:
    """Errors from the node or the keystore become one red line and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AgoraError as e:
            console().print(f"[red]error[/red] {e.code}: {e.message}")
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]
