"""The header of every packet after the handshake, and its pinned byte layout.

All big-endian:

    offset size field
    0      4    length L of the rest of the frame: 31 <= L <= max_frame + 31
    4      2    code (PacketCode)
    6      1    flags: bit0 response_handler, bit1 is_response, others 0
    7      4    msg_id
    11     8    nonce: per-direction packet counter
    19     16   tag: Poly1305 over bytes 0..19 (AAD) and the encrypted body
    35     L-31 the encrypted body

`is_marshalled` never goes on the wire.
"""

from __future__ import annotations

import struct

import msgspec

from agora.peer_net.violations import violation

LENGTH = struct.Struct(">I")
AAD = struct.Struct(">IHBIQ")  # the authenticated part: length .. nonce
HEADER = struct.Struct(">IHBIQ16s")
LENGTH_SIZE = LENGTH.size  # 4
AAD_SIZE = AAD.size  # 19
TAG_SIZE = 16
HEADER_SIZE = HEADER.size  # 35
MIN_LENGTH = HEADER_SIZE - LENGTH_SIZE  # 31: a frame with an empty body
DEFAULT_MAX_FRAME = 4 * 1024 * 1024  # largest body

RESPONSE_HANDLER = 0x01
IS_RESPONSE = 0x02
KNOWN_FLAGS = RESPONSE_HANDLER | IS_RESPONSE

MAX_CODE = 2**16 - 1
MAX_MSG_ID = 2**32 - 1


class Header(msgspec.Struct, frozen=True, gc=False):
    code: int
    response_handler: bool
    is_response: bool
    msg_id: int
    nonce: int
    tag: bytes
    is_marshalled: bool = False  # in memory only: the body was encoded once, for every peer

    @property
    def flags(self) -> int:
        return encode_flags(self.response_handler, self.is_response)


def encode_flags(response_handler: bool, is_response: bool) -> int:
    return (RESPONSE_HANDLER if response_handler else 0) | (IS_RESPONSE if is_response else 0)


def check_flags(flags: int) -> None:
    """Unknown bits, or a request that is also a response, are `bad_flags`."""
    if flags & ~KNOWN_FLAGS or flags == KNOWN_FLAGS:
        raise violation("bad_flags", f"bad header flags {flags:#04x}")


def pack(header: Header, body_size: int) -> bytes:
    """The 35 header bytes of a frame whose (encrypted) body is `body_size` bytes."""
    return HEADER.pack(
        MIN_LENGTH + body_size,
        header.code,
        header.flags,
        header.msg_id,
        header.nonce,
        header.tag,
    )


def unpack(frame: bytes | bytearray | memoryview) -> tuple[Header, int]:
    """The header at the start of `frame` and the body size it announces.

    The caller has already checked the length against its bounds; this
    checks the flags.
    """
    if len(frame) < HEADER_SIZE:
        raise violation("frame_undersize", f"a frame is at least {HEADER_SIZE} bytes")
    length, code, flags, msg_id, nonce, tag = HEADER.unpack_from(frame)
    check_flags(flags)
    return Header(code, bool(flags & 1), bool(flags & 2), msg_id, nonce, tag), length - MIN_LENGTH
