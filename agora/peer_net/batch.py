"""BATCH: the packets queued for one peer at flush time, sealed as one frame.

One AEAD call, one header and one nonce then carry many small packets. The
frame is an ordinary one (header layout unchanged) with code BATCH, flags 0
and msg_id 0; its body is the packets one after another, each big-endian:

    offset size field
    0      2    code
    2      1    flags (as in the header: bit0 response_handler, bit1 is_response)
    3      4    msg_id
    7      4    length N of the body
    11     N    body

The sender only coalesces what is already queued when it flushes, never
waits for more, and sends a lone packet as a plain frame. The receiver
checks every packet as it would a frame: its flags here, its code, kind and
size in the router. A batch that is empty, cut short, holds more than
`MAX_PACKETS` packets, or nests a BATCH or a DISCONNECT is `bad_batch`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NoReturn

from agora.errors import RemoteError
from agora.peer_net.codes import PacketCode
from agora.peer_net.events import PacketReceived
from agora.peer_net.header import IS_RESPONSE, RESPONSE_HANDLER, check_flags
from agora.peer_net.violations import violation

SUB = struct.Struct(">HBII")
SUB_SIZE = SUB.size  # 11
MAX_PACKETS = 1024  # per batch; the sender starts another frame after this many
TARGET_BYTES = 64 * 1024  # the sender fills a batch body up to about this much

Packet = tuple[int, int, int, bytes]  # code, flags, msg_id, body

_BATCH = int(PacketCode.BATCH)
_DISCONNECT = int(PacketCode.DISCONNECT)
_FLAGS_MAX = max(RESPONSE_HANDLER, IS_RESPONSE)  # 0, 1 and 2 are the only valid flags
_COUNT = range(MAX_PACKETS)


def encode(packets: Sequence[Packet]) -> bytes:
    """The body of a BATCH frame holding `packets`, in order."""
    pack = SUB.pack
    parts: list[bytes] = []
    append = parts.append
    for code, flags, msg_id, body in packets:
        append(pack(code, flags, msg_id, len(body)))
        append(body)
    return b"".join(parts)


def coalesce(packets: Sequence[Packet], limit: int = TARGET_BYTES) -> list[Packet]:
    """The frames to seal for `packets`, in order: runs of them as BATCH packets, a lone one as is.

    A run ends before the packet that would take its body over `limit` bytes
    or its count over MAX_PACKETS; a packet too big to share goes alone.
    """
    if len(packets) == 1:
        return list(packets)
    pack = SUB.pack
    frames: list[Packet] = []
    chunks: list[bytes] = []  # the body of the run being built
    first = packets[0]
    total = count = 0
    for packet in packets:
        code, flags, msg_id, body = packet
        size = SUB_SIZE + len(body)
        if count and (total + size > limit or count == MAX_PACKETS):
            frames.append(first if count == 1 else (_BATCH, 0, 0, b"".join(chunks)))
            chunks = []
            total = count = 0
        if not count:
            first = packet
        chunks.append(pack(code, flags, msg_id, size - SUB_SIZE))
        chunks.append(body)
        total += size
        count += 1
    frames.append(first if count == 1 else (_BATCH, 0, 0, b"".join(chunks)))
    return frames


def decode(body: bytes, nonce: int = 0, tag: bytes = b"") -> list[PacketReceived]:
    """The packets of a BATCH body, each checked; `bad_batch` or `bad_flags` if not.

    Each gets the batch frame's `nonce` and `tag`.
    """
    end = len(body)
    if not end:
        raise _bad("an empty batch")
    unpack = SUB.unpack_from
    out: list[PacketReceived] = []
    append = out.append
    pos = 0
    for _ in _COUNT:  # at most MAX_PACKETS
        if end - pos < SUB_SIZE:
            _short(end - pos)
        code, flags, msg_id, size = unpack(body, pos)
        pos += SUB_SIZE
        stop = pos + size
        # every check at once (flags are 0, 1 or 2); _refuse says which failed
        if stop > end or flags > _FLAGS_MAX or code == _BATCH or code == _DISCONNECT:
            _refuse(code, flags, size, stop - end)
        append(PacketReceived(code, flags == 1, flags == 2, msg_id, body[pos:stop], nonce, tag))
        if stop == end:
            return out
        pos = stop
    raise _bad(f"a batch of more than {MAX_PACKETS} packets")


def _short(left: int) -> NoReturn:
    raise _bad(f"{left} bytes left at the end of a batch, short of a packet header")


def _refuse(code: int, flags: int, size: int, past: int) -> NoReturn:
    if past > 0:
        raise _bad(f"a packet of {size} bytes runs {past} bytes past its batch")
    if code == _BATCH or code == _DISCONNECT:
        raise _bad(f"code {code} cannot be inside a batch")
    check_flags(flags)
    raise AssertionError(f"flags {flags} passed check_flags")  # pragma: no cover


def _bad(message: str) -> RemoteError:
    return violation("bad_batch", message)
