"""The incoming side of a connection: bytes from the socket, cut into messages.

During the handshake the messages are Noise messages behind a 2-byte length
(as libp2p's noise frames them); after it, frames behind a 4-byte length
(see header.py). A length is checked as soon as its bytes are here, before
anything is allocated for what it announces.

Frames are not copied out: `spans` gives their positions in `buffer` (the
connection's hot path, one memoryview for a whole read) and `next_frame` a
memoryview of one. Release views before the next `feed`; decrypting copies.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from agora.errors import LocalError, RemoteError
from agora.peer_net.header import LENGTH, LENGTH_SIZE, MIN_LENGTH
from agora.peer_net.violations import violation

HANDSHAKE_LENGTH = struct.Struct(">H")
MAX_HANDSHAKE_MESSAGE = 1024  # our XX messages with a Hello are about 550 bytes


class Incoming:
    """A byte buffer that yields whole handshake messages or frames."""

    __slots__ = ("_buf", "_pos", "budget", "max_handshake", "max_length")

    def __init__(
        self, *, max_frame: int, budget: int, max_handshake: int = MAX_HANDSHAKE_MESSAGE
    ) -> None:
        if budget < max_frame + MIN_LENGTH + LENGTH_SIZE:
            # otherwise a legal frame of the largest size could never be read
            raise LocalError("incoming budget is smaller than one frame", code="bad_config")
        self.max_length = max_frame + MIN_LENGTH
        self.budget = budget
        self.max_handshake = max_handshake
        self._buf = bytearray()
        self._pos = 0  # start of the first byte not yet consumed

    @property
    def backlog(self) -> int:
        """Bytes received and not yet consumed."""
        return len(self._buf) - self._pos

    @property
    def over_budget(self) -> bool:
        """True when the connection should stop reading from this peer for now."""
        return len(self._buf) - self._pos > self.budget

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        pos = self._pos
        if pos:
            try:
                del self._buf[:pos]  # O(1) at the front of a bytearray
            except BufferError:  # someone kept a view of an old frame: leave it be
                self._buf = self._buf[pos:]
            self._pos = 0
        self._buf += data

    def clear(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def next_handshake_message(self) -> bytes | None:
        """The next whole Noise message, or None until more bytes arrive."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 2:
            return None
        (size,) = HANDSHAKE_LENGTH.unpack_from(buf, pos)
        if size > self.max_handshake:
            raise violation(
                "handshake_message_too_long",
                f"handshake message of {size} bytes, the limit is {self.max_handshake}",
            )
        end = pos + 2 + size
        if end > len(buf):
            return None
        self._pos = end
        return bytes(memoryview(buf)[pos + 2 : end])

    @property
    def buffer(self) -> bytearray:
        """The raw buffer, for `spans`; a view of it must be released before `feed`."""
        return self._buf

    def spans(self) -> tuple[list[tuple[int, int]], RemoteError | None]:
        """(start, end) in `buffer` of every whole frame here now, consumed.

        A bad length stops the scan; it is returned, not raised, so that the
        frames before it are still handled in order (a DISCONNECT among them).
        """
        buf, pos, size = self._buf, self._pos, len(self._buf)
        max_length = self.max_length
        out: list[tuple[int, int]] = []
        error: RemoteError | None = None
        while size - pos >= LENGTH_SIZE:
            (length,) = LENGTH.unpack_from(buf, pos)
            if length > max_length or length < MIN_LENGTH:
                error = self._bad_length(length)
                break
            end = pos + LENGTH_SIZE + length
            if end > size:
                break
            out.append((pos, end))
            pos = end
        self._pos = pos
        return out, error

    def _bad_length(self, length: int) -> RemoteError:
        if length > self.max_length:
            return violation(
                "frame_oversize", f"frame of {length} bytes, the limit is {self.max_length}"
            )
        return violation("frame_undersize", f"frame of {length} bytes is shorter than a header")

    def next_frame(self) -> memoryview | None:
        """The next whole frame (length prefix included), or None until more arrive."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < LENGTH_SIZE:
            return None
        (length,) = LENGTH.unpack_from(buf, pos)
        if length > self.max_length or length < MIN_LENGTH:
            raise self._bad_length(length)
        end = pos + LENGTH_SIZE + length
        if end > len(buf):
            return None
        self._pos = end
        return memoryview(buf)[pos:end]

    def frames(self) -> Iterator[memoryview]:
        """Every whole frame buffered now."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def eof(self) -> None:
        """The peer closed: a partial message left over is `frame_truncated`."""
        if self.backlog:
            raise violation(
                "frame_truncated", f"connection closed with {self.backlog} bytes of a frame"
            )
