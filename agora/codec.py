"""Canonical msgpack encoding for everything that is signed, hashed or sent.

Structs are msgspec structs encoded as arrays. Decoding is strict: a value
must re-encode to exactly the bytes it came from, so every object has one
encoding and a hash of the bytes is a hash of the value.
"""

from __future__ import annotations

import hashlib
from typing import Any, Generic, TypeVar

import msgspec

from agora.errors import RemoteError

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()


class Canonical(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Base of every struct that travels or is hashed.

    Subclasses repeat `frozen=True` in their class line so that mypy sees it.
    """


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def sha256(data: bytes | bytearray | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


class Codec(Generic[T]):
    """A strict decoder for one type, with a size limit checked before decoding."""

    def __init__(self, type_: type[T], max_size: int, name: str = "") -> None:
        self._decoder = msgspec.msgpack.Decoder(type_)
        self.max_size = max_size
        self.name = name or getattr(type_, "__name__", "value")

    def decode(self, data: bytes | bytearray | memoryview) -> T:
        if len(data) > self.max_size:
            raise RemoteError(
                f"{self.name}: {len(data)} bytes is over the limit of {self.max_size}",
                code="oversize",
                penalty=20,
            )
        try:
            value = self._decoder.decode(data)
        except msgspec.ValidationError as e:
            raise RemoteError(f"{self.name}: {e}", code="invalid_value", penalty=20) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            # msgspec raises UnicodeDecodeError for a str that is not UTF-8.
            raise RemoteError(f"{self.name}: {e}", code="undecodable", penalty=20) from None
        if _encoder.encode(value) != bytes(data):
            raise RemoteError(
                f"{self.name}: not in canonical form", code="non_canonical", penalty=20
            )
        return value
