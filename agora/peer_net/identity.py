"""A node's long-term identity and the Hello it proves it with during the handshake.

The Noise static key is a plain X25519 key; what makes it the node's is the
node's Ed25519 identity key signing it (domain-separated), carried in the
Hello payload of XX messages 2 (responder) and 3 (initiator).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import msgspec
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from agora.errors import LocalError
from agora.peer_net.violations import violation

STATIC_DOMAIN = b"agora-noise-static-v1"
SEED_SIZE = 32


class NodeKey:
    """The node's Ed25519 key; `node_id` is its 32-byte public key."""

    __slots__ = ("_signing", "node_id")

    def __init__(self, signing: SigningKey) -> None:
        self._signing = signing
        self.node_id: bytes = bytes(signing.verify_key)

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> NodeKey:
        if len(seed) != SEED_SIZE:
            raise LocalError(f"an Ed25519 seed is {SEED_SIZE} bytes", code="bad_key")
        return cls(SigningKey(seed))

    @classmethod
    def load(cls, path: Path | str) -> NodeKey:
        text = Path(path).read_text().strip()
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            raise LocalError(f"{path}: node key is not hex", code="bad_key_file") from None
        if len(seed) != SEED_SIZE:
            raise LocalError(f"{path}: node key is not {SEED_SIZE} bytes", code="bad_key_file")
        return cls(SigningKey(seed))

    def save(self, path: Path | str) -> None:
        """Write the hex seed with mode 0600, atomically (write then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to an existing file
            os.write(fd, bytes(self._signing).hex().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    @property
    def hex(self) -> str:
        return self.node_id.hex()

    @property
    def short(self) -> str:
        return self.node_id.hex()[:8]

    def sign(self, message: bytes) -> bytes:
        return bytes(self._signing.sign(message).signature)

    def __repr__(self) -> str:
        return f"NodeKey({self.short})"


Key32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Sig64 = Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]
Version = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
Network = Annotated[str, msgspec.Meta(max_length=64)]
Listen = Annotated[str, msgspec.Meta(max_length=256)]


class Hello(msgspec.Struct, frozen=True, array_like=True):
    """The handshake payload: who we are, where we listen, what we speak."""

    identity_key: Key32
    signature: Sig64
    version: Version
    network: Network
    listen: Listen


class PeerInfo(msgspec.Struct, frozen=True):
    """What we know about the other side once the handshake is done."""

    identity_key: bytes
    listen: str
    version: int
    network: str

    @property
    def hex(self) -> str:
        return self.identity_key.hex()

    @property
    def short(self) -> str:
        return self.identity_key.hex()[:8]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Hello)


def make_hello(key: NodeKey, noise_static: bytes, version: int, network: str, listen: str) -> Hello:
    signature = key.sign(STATIC_DOMAIN + noise_static)
    return Hello(key.node_id, signature, version, network, listen)


def encode_hello(hello: Hello) -> bytes:
    return _encoder.encode(hello)


def verify_hello(payload: bytes, noise_static: bytes) -> PeerInfo:
    """Decode a peer's Hello and check it signs the peer's Noise static key."""
    try:
        hello = _decoder.decode(payload)
    except msgspec.DecodeError as e:  # ValidationError is a DecodeError
        raise violation("bad_hello", f"undecodable Hello: {e}") from None
    try:
        VerifyKey(hello.identity_key).verify(STATIC_DOMAIN + noise_static, hello.signature)
    except (CryptoError, ValueError, TypeError):
        raise violation("bad_identity_signature", "Hello signature does not verify") from None
    return PeerInfo(hello.identity_key, hello.listen, hello.version, hello.network)
