"""The genesis: chain id, start time, validators, initial balances and parameters.

On disk it is JSON with keys as hex strings, so that people can read and edit
it; `Genesis.hash()` is over a deterministic msgpack encoding and is what the
chain is bound to (it is the `prev_hash` of block 1 and seeds the state root).

`genesis_from_json` raises only RemoteError: `undecodable` for bytes that are
not JSON (not UTF-8, too deeply nested), `bad_genesis` for JSON that is not a
genesis that can start. A genesis it returns can be hashed, and
`genesis_to_json` of it decodes to one with the same hash. Keys and addresses
are exactly 64 hex digits; validator powers are positive and their total, like
the balances', fits in 63 bits; module parameters must fit the msgpack encoding.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import nacl.signing

from agora.blockchain.schema import MAX_BLOCK_TXS
from agora.blockchain.tx import MAX_INT
from agora.blockchain.votes import Validator, ValidatorSet
from agora.errors import RemoteError

GENESIS_DOMAIN = b"agora-genesis-v1\x00"
FAUCET_LABEL = "faucet"
_CHAIN_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")  # fullmatch: no trailing newline
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")
_det = msgspec.msgpack.Encoder(order="deterministic")
T = TypeVar("T")
# A block travels whole in one peer_net frame (PROPOSAL, BLOCKS_RESPONSE), and frames
# are at most 4 MiB: the block must leave room for the envelope and a commit.
MAX_BLOCK_BYTES = 3 * 1024 * 1024


class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Consensus parameters: every node must use the same ones."""

    max_block_bytes: int = 2 * 1024 * 1024  # at most MAX_BLOCK_BYTES
    max_block_txs: int = 10_000
    max_tx_bytes: int = 64 * 1024
    min_fee: int = 0  # 0 so that a newcomer without tokens can act within its quota
    fee_per_byte: int = 0
    quota_window_ms: int = 3_600_000  # the token bucket refills fully in one window
    quota_base: int = 50  # actions per window for an account with no balance
    quota_balance_step: int = 1_000  # +1 action per window for each step of balance
    quota_max: int = 1_000


class Balance(msgspec.Struct, frozen=True, array_like=True):
    address: bytes
    amount: int


class Genesis(msgspec.Struct, frozen=True):
    chain_id: str
    genesis_time: int  # ms since the epoch
    validators: list[Validator]
    balances: list[Balance]
    params: Params = Params()
    modules: dict[str, dict[str, Any]] = {}  # per-module parameters, by module name

    def hash(self) -> bytes:
        return hashlib.sha256(GENESIS_DOMAIN + _det.encode(self)).digest()

    def valset(self) -> ValidatorSet:
        return ValidatorSet(self.validators)

    def module_params(self, name: str, type_: type[T]) -> T:
        """This module's parameters as `type_` (a msgspec Struct with defaults)."""
        try:
            return msgspec.convert(self.modules.get(name, {}), type_)
        except msgspec.ValidationError as e:
            raise RemoteError(f"genesis modules.{name}: {e}", code="bad_genesis") from None


# The file format: the same fields, with keys in hex.
class _ValidatorFile(msgspec.Struct, forbid_unknown_fields=True):
    pub_key: str
    power: int


class _BalanceFile(msgspec.Struct, forbid_unknown_fields=True):
    address: str
    amount: int


class _GenesisFile(msgspec.Struct, forbid_unknown_fields=True):
    chain_id: str
    genesis_time: int
    validators: list[_ValidatorFile]
    balances: list[_BalanceFile]
    params: Params = Params()
    modules: dict[str, dict[str, Any]] = {}


def _bad(msg: str) -> RemoteError:
    return RemoteError(f"genesis: {msg}", code="bad_genesis")


def _key(hex_: str, what: str) -> bytes:
    # fromhex alone would take spaces: the file must say one thing one way
    if not _HEX32.fullmatch(hex_):
        raise _bad(f"{what} is not 32 bytes in hex (64 digits)")
    return bytes.fromhex(hex_)


def check_genesis(g: Genesis) -> Genesis:
    """Raise RemoteError(bad_genesis) unless `g` describes a chain that can start."""
    if not _CHAIN_ID.fullmatch(g.chain_id):
        raise _bad(f"chain_id {g.chain_id!r} must match {_CHAIN_ID.pattern}")
    if not 0 <= g.genesis_time <= MAX_INT:
        raise _bad("genesis_time out of range")
    if sum(v.power for v in g.validators) > MAX_INT:
        raise _bad("the validators' total power must fit in 63 bits")
    try:
        ValidatorSet(g.validators)
    except ValueError as e:
        raise _bad(str(e)) from None
    addrs = [b.address for b in g.balances]
    if len(set(addrs)) != len(addrs) or any(len(a) != 32 for a in addrs):
        raise _bad("balances must name distinct 32-byte addresses")
    if any(b.amount < 0 for b in g.balances) or sum(b.amount for b in g.balances) > MAX_INT:
        raise _bad("balances must be non-negative and their total fit in 63 bits")
    p = g.params
    for name in p.__struct_fields__:
        if not 0 <= getattr(p, name) <= MAX_INT:
            raise _bad(f"params.{name} out of range")
    if min(p.max_block_bytes, p.max_block_txs, p.max_tx_bytes, p.quota_window_ms) < 1:
        raise _bad("block and tx limits and the quota window must be positive")
    if p.max_block_txs > MAX_BLOCK_TXS:
        raise _bad(f"params.max_block_txs is at most {MAX_BLOCK_TXS}")
    if p.max_block_bytes > MAX_BLOCK_BYTES:
        raise _bad(
            f"params.max_block_bytes is at most {MAX_BLOCK_BYTES} (a block and its envelope "
            "must fit in one 4 MiB peer frame); a devnet made before: agora devnet --reset"
        )
    try:
        _det.encode(g.modules)  # else hash() would fail later, far from the file
    except (OverflowError, TypeError, RecursionError) as e:
        raise _bad(f"modules: {e}") from None
    return g


def genesis_from_json(data: bytes) -> Genesis:
    try:
        f = msgspec.json.decode(data, type=_GenesisFile)
    except msgspec.ValidationError as e:
        raise _bad(str(e)) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as e:
        # msgspec raises UnicodeDecodeError for a str that is not UTF-8, and
        # RecursionError for `modules` nested too deep
        raise RemoteError(f"genesis: {e}", code="undecodable") from None
    vals = [Validator(_key(v.pub_key, "validator key"), v.power) for v in f.validators]
    bals = [Balance(_key(b.address, "balance address"), b.amount) for b in f.balances]
    return check_genesis(Genesis(f.chain_id, f.genesis_time, vals, bals, f.params, f.modules))


def genesis_to_json(g: Genesis) -> bytes:
    f = _GenesisFile(
        g.chain_id,
        g.genesis_time,
        [_ValidatorFile(v.pub_key.hex(), v.power) for v in g.validators],
        [_BalanceFile(b.address.hex(), b.amount) for b in g.balances],
        g.params,
        g.modules,
    )
    return msgspec.json.format(msgspec.json.encode(f), indent=2) + b"\n"


def load_genesis(path: Path | str) -> Genesis:
    return genesis_from_json(Path(path).read_bytes())


def save_genesis(g: Genesis, path: Path | str) -> None:
    check_genesis(g)
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(genesis_to_json(g))
    tmp.replace(p)


def dev_signing_key(label: str, seed: bytes = b"agora-devnet") -> nacl.signing.SigningKey:
    """A well-known key for devnets and tests (never for a real network)."""
    return nacl.signing.SigningKey(hashlib.sha256(seed + b"/" + label.encode()).digest())


def make_dev_genesis(
    chain_id: str,
    validator_keys: list[bytes],
    funded_keys: Sequence[bytes] = (),
    *,
    amount: int = 1_000_000,
    faucet_amount: int = 10**12,
    genesis_time: int | None = None,
    params: Params | None = None,
    modules: dict[str, dict[str, Any]] | None = None,
) -> Genesis:
    """A genesis for `agora init`/`agora devnet`: equal validators, funded accounts and a
    faucet whose key is `dev_signing_key(FAUCET_LABEL)`."""
    faucet = bytes(dev_signing_key(FAUCET_LABEL).verify_key)
    balances = {k: amount for k in funded_keys}
    balances[faucet] = balances.get(faucet, 0) + faucet_amount
    return check_genesis(
        Genesis(
            chain_id,
            int(time.time() * 1000) if genesis_time is None else genesis_time,
            [Validator(k, 10) for k in validator_keys],
            [Balance(k, v) for k, v in sorted(balances.items())],
            params or Params(),
            {"social": {"max_post_chars": 1000}} if modules is None else modules,
        )
    )
