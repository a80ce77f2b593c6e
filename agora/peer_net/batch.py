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

from agora.errors import RemoteError
from agora.peer_net.codes import PacketCode
from agora.peer_net.events import PacketReceived
from agora.peer_net.header import KNOWN_FLAGS, check_flags
from agora.peer_net.violations import violation

SUB = struct.Struct(">HBII")
SUB_SIZE = SUB.size  # 11
MAX_PACKETS = 1024  # per batch; the sender starts another frame after this many
TARGET_BYTES = 64 * 1024  # the sender fills a batch body up to about this much

Packet = tuple[int, int, int, bytes]  # code, flags, msg_id, body

_BATCH = int(PacketCode.BATCH)
_DISCONNECT = int(PacketCode.DISCONNECT)


def encode(packets: Sequence[Packet]) -> bytes:
    """The body of a BATCH frame holding `packets`, in order."""
    pack = SUB.pack
    parts: list[bytes] = []
    append = parts.append
    for code, flags, msg_id, body in packets:
        append(pack(code, flags, msg_id, len(body)))
        append(body)
    return b"".join(parts)


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
    while pos < end:
        if end - pos < SUB_SIZE:
            raise _bad(f"{end - pos} bytes left at the end of a batch, short of a packet header")
        code, flags, msg_id, size = unpack(body, pos)
        pos += SUB_SIZE
        stop = pos + size
        if stop > end:
            raise _bad(f"a packet of {size} bytes runs {stop - end} bytes past its batch")
        if code == _BATCH or code == _DISCONNECT:
            raise _bad(f"code {code} cannot be inside a batch")
        if flags & ~KNOWN_FLAGS or flags == KNOWN_FLAGS:
            check_flags(flags)
        if len(out) == MAX_PACKETS:
            raise _bad(f"a batch of more than {MAX_PACKETS} packets")
        append(PacketReceived(code, flags == 1, flags == 2, msg_id, body[pos:stop], nonce, tag))
        pos = stop
    return out


def _bad(message: str) -> RemoteError:
    return violation("bad_batch", message)
