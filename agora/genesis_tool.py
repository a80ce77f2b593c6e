"""Making a real network's genesis (`agora genesis …`), as opposed to a devnet's.

    g = new_genesis("mychain", [(key, 10)], [(addr, 1_000_000)])   # no faucet
    g = add_validator(g, key, 10); g = add_balance(g, addr, 5)
    install_genesis(g, home_root)    # into a home made by `agora init --validator`

A real chain starts with validators who each ran `agora init --validator`,
sent their validator key to whoever assembles the genesis, and installed the
result in their home before the first start. Unlike a devnet's genesis, this
one funds no well-known faucet key, so no one can mint from it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import msgspec

from agora.blockchain.genesis import (
    FAUCET_LABEL,
    Balance,
    Genesis,
    Params,
    check_genesis,
    dev_signing_key,
    save_genesis,
)
from agora.blockchain.votes import Validator
from agora.config import Home
from agora.errors import AgoraError, LocalError
from agora.peer_net.identity import NodeKey

DEFAULT_MODULES = {"social": {"max_post_chars": 1000}}


def _checked(g: Genesis) -> Genesis:
    """check_genesis, with its complaint as our user's error (they are editing the file)."""
    try:
        return check_genesis(g)
    except AgoraError as e:
        raise LocalError(e.message, code="bad_genesis") from None


def parse_key(text: str, what: str) -> bytes:
    """32 bytes from 64 hex characters; LocalError `bad_key` otherwise."""
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise LocalError(f"{what} must be 64 hex characters (32 bytes): {text!r}", code="bad_key")
    return key


def new_genesis(
    chain_id: str,
    validators: Sequence[tuple[bytes, int]],
    balances: Sequence[tuple[bytes, int]] = (),
    *,
    genesis_time_ms: int | None = None,
) -> Genesis:
    start = int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms
    g = Genesis(
        chain_id,
        start,
        [Validator(k, p) for k, p in validators],
        [Balance(a, n) for a, n in sorted(balances)],
        Params(),
        msgspec.convert(DEFAULT_MODULES, dict[str, dict[str, object]]),
    )
    return _checked(g)


def add_validator(g: Genesis, key: bytes, power: int) -> Genesis:
    if any(v.pub_key == key for v in g.validators):
        raise LocalError(f"validator {key.hex()} is already in the genesis", code="duplicate")
    return _checked(msgspec.structs.replace(g, validators=[*g.validators, Validator(key, power)]))


def remove_validator(g: Genesis, key: bytes) -> Genesis:
    kept = [v for v in g.validators if v.pub_key != key]
    if len(kept) == len(g.validators):
        raise LocalError(f"validator {key.hex()} is not in the genesis", code="not_found")
    return _checked(msgspec.structs.replace(g, validators=kept))


def add_balance(g: Genesis, address: bytes, amount: int) -> Genesis:
    """Add `amount` to `address`'s starting balance (a new entry if it has none)."""
    bals = {b.address: b.amount for b in g.balances}
    bals[address] = bals.get(address, 0) + amount
    return _checked(
        msgspec.structs.replace(g, balances=[Balance(a, n) for a, n in sorted(bals.items())])
    )


def has_dev_faucet(g: Genesis) -> bool:
    faucet = bytes(dev_signing_key(FAUCET_LABEL).verify_key)
    return any(b.address == faucet and b.amount > 0 for b in g.balances)


def home_validator_key(root: Path) -> bytes:
    """The public validator key of the home at `root` (made by `agora init --validator`)."""
    path = Home(root).validator_key
    if not path.exists():
        raise LocalError(
            f"{root} has no validator key: make it with `agora init --validator`",
            code="no_validator_key",
        )
    return NodeKey.load(path).node_id


def install_genesis(g: Genesis, root: Path) -> None:
    """Put `g` in the home at `root`, which must not have started a chain yet (its store
    and consensus WAL are bound to the genesis it started with)."""
    home = Home(root).require()
    started = home.chain_started()
    if started is not None:
        raise LocalError(
            f"{root} has already run a chain ({started.name}); make a new home for this one",
            code="chain_started",
        )
    save_genesis(_checked(g), home.genesis)
