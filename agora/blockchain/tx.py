"""Signed transactions: an envelope that the sender signs, and a body it commits to by hash.

The signature and the tx hash cover the envelope only; the envelope names the
body by its SHA-256. A body erased later (a social delete) therefore leaves the
tx hash, the tx root and the block id unchanged and still verifiable.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import msgspec
import nacl.signing

from agora.codec import Canonical, Codec, encode, sha256
from agora.errors import RemoteError

TX_DOMAIN = b"agora-tx-v1\x00"
MAX_INT = 2**63 - 1  # SQLite integers are signed 64-bit

Key32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Sig64 = Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]
Uint = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
ChainId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Kind = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern="^[a-z][a-z0-9_]*$")]


class TxError(RemoteError):
    """A transaction is refused or failed; `code` says why. Clients pay no penalty."""

    code = "bad_tx"

    def __init__(self, code: str, message: str, *, penalty: int = 0) -> None:
        super().__init__(message, code=code, penalty=penalty)


class Envelope(Canonical, frozen=True):
    """What the sender signs. Nonces start at 1; `expiry` is the last height (0: none)."""

    chain_id: ChainId
    sender: Key32
    nonce: Uint
    kind: Kind
    body_hash: Key32
    fee: Uint
    expiry: Uint


class Tx(Canonical, frozen=True):
    envelope: Envelope
    signature: Sig64
    body: bytes | None  # None only once erased


def sign_bytes(envelope_bytes: bytes) -> bytes:
    return TX_DOMAIN + envelope_bytes


def tx_hash(tx: Tx) -> bytes:
    return sha256(encode(tx.envelope) + tx.signature)


def tx_hash_parts(envelope_bytes: bytes, signature: bytes) -> bytes:
    return hashlib.sha256(envelope_bytes + signature).digest()


def make_tx(
    key: nacl.signing.SigningKey,
    chain_id: str,
    nonce: int,
    kind: str,
    body: bytes,
    *,
    fee: int = 0,
    expiry: int = 0,
) -> Tx:
    """Sign `body` (already canonically encoded) as a tx of `kind`."""
    env = Envelope(chain_id, bytes(key.verify_key), nonce, kind, sha256(body), fee, expiry)
    sig = key.sign(sign_bytes(encode(env))).signature
    return Tx(env, sig, body)


def erased(tx: Tx) -> Tx:
    return Tx(tx.envelope, tx.signature, None)


DEFAULT_MAX_TX_BYTES = 64 * 1024
_codecs: dict[int, Codec[Tx]] = {}


def tx_codec(max_size: int = DEFAULT_MAX_TX_BYTES) -> Codec[Tx]:
    codec = _codecs.get(max_size)
    if codec is None:
        codec = _codecs[max_size] = Codec(Tx, max_size, "tx")
    return codec


def encode_tx(tx: Tx) -> bytes:
    return encode(tx)


def decode_tx(data: bytes | bytearray | memoryview, max_size: int = DEFAULT_MAX_TX_BYTES) -> Tx:
    """Strict structural decoding; raises RemoteError (oversize, undecodable, invalid_value,
    non_canonical). Which kinds exist and whether the body fits its kind is checked by
    `Chain.decode_tx` and the mempool, which know the modules."""
    return tx_codec(max_size).decode(data)


def decode_tx_env(
    data: bytes | bytearray | memoryview, max_size: int = DEFAULT_MAX_TX_BYTES
) -> tuple[Tx, bytes]:
    """`decode_tx`, and the envelope's canonical bytes cut out of `data` (a canonical
    tx is a 3-array: the envelope, the signature as bin8, the body as bin or nil), so
    that nothing downstream encodes the envelope again."""
    tx = decode_tx(data, max_size)
    return tx, envelope_bytes(tx, data)


def envelope_bytes(tx: Tx, data: bytes | bytearray | memoryview) -> bytes:
    """The envelope's canonical bytes cut out of `data`, the canonical bytes of `tx`."""
    body = tx.body
    tail = 66 + (1 if body is None else bin_size(len(body)))
    return bytes(data[1 : len(data) - tail])


def bin_size(n: int) -> int:
    """The msgpack size of an `n`-byte bin value: its header and its bytes."""
    return n + (2 if n < 256 else 3 if n < 65536 else 5)
