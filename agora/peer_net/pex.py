"""Peer exchange bodies: PEX_REQUEST is empty, PEX_RESPONSE is a list of addresses.

A PEX_RESPONSE body is the msgpack array `[[addr, ...]]`, each `addr` a
`host:port` string. Decoding is strict and bounded: an undecodable body or an
over-long list is a protocol violation (`bad_pex`, penalty 100); a list that
decodes but holds a malformed address or port 0 is `bad_pex` with a smaller
penalty, since a buggy peer is more likely than a hostile one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agora.errors import RemoteError
from agora.peer_net.addr import MAX_ADDR_LEN, normalize_addr

MAX_PEX = 64  # addresses in one response
MAX_PEX_BODY = 8 + MAX_PEX * (MAX_ADDR_LEN + 3)
PEX_VIOLATION = 100
PEX_BAD_ENTRY = 20

Addr = Annotated[str, msgspec.Meta(max_length=MAX_ADDR_LEN)]


class PexResponse(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    addrs: Annotated[list[Addr], msgspec.Meta(max_length=MAX_PEX)]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(PexResponse)


def bad_pex(message: str, penalty: int = PEX_VIOLATION) -> RemoteError:
    return RemoteError(message, code="bad_pex", penalty=penalty)


def encode_pex_response(addrs: list[str]) -> bytes:
    return _encoder.encode(PexResponse(addrs[:MAX_PEX]))


def decode_pex_request(body: bytes | bytearray | memoryview) -> None:
    if len(body):
        raise bad_pex(f"PEX_REQUEST body must be empty, got {len(body)} bytes")


def decode_pex_response(body: bytes | bytearray | memoryview) -> list[str]:
    """The addresses, normalized and de-duplicated in order; RemoteError `bad_pex`."""
    if len(body) > MAX_PEX_BODY:
        raise bad_pex(f"PEX_RESPONSE of {len(body)} bytes is over {MAX_PEX_BODY}")
    try:
        msg = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise bad_pex(f"undecodable PEX_RESPONSE: {e}") from None
    return validate_pex(msg.addrs)


def validate_pex(addrs: object) -> list[str]:
    if not isinstance(addrs, list):
        raise bad_pex("PEX addresses must be a list")
    if len(addrs) > MAX_PEX:
        raise bad_pex(f"{len(addrs)} PEX addresses, more than {MAX_PEX}")
    out: dict[str, None] = {}
    for a in addrs:
        try:
            out[normalize_addr(a)] = None
        except RemoteError as e:
            raise bad_pex(f"bad PEX address: {e.message}", PEX_BAD_ENTRY) from None
    return list(out)
