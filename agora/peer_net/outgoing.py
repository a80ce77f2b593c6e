"""The outgoing side of a connection: encoded frames waiting for the socket.

Bounded in bytes. A packet that does not fit is refused (`push` returns
False) and the caller decides: drop a gossip message, fail a request.
Control messages (handshake, DISCONNECT) are small and always go in, so a
connection can always say why it closes.
"""

from __future__ import annotations

Chunk = bytes | bytearray | memoryview


class Outgoing:
    __slots__ = ("budget", "parts", "size")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0  # bytes queued
        self.parts: list[Chunk] = []  # queued frames, in pieces; joined by `take`

    def fits(self, size: int) -> bool:
        return self.size + size <= self.budget

    def push(self, *parts: Chunk) -> bool:
        """Queue one frame, given whole or in pieces; False if over budget."""
        size = sum(len(p) for p in parts) if len(parts) != 1 else len(parts[0])
        if self.size + size > self.budget:
            return False
        self.parts.extend(parts)
        self.size += size
        return True

    def push_control(self, *parts: Chunk) -> None:
        """Queue a control frame even when over budget."""
        self.parts.extend(parts)
        self.size += sum(len(p) for p in parts)

    def take(self) -> bytes:
        """Everything queued, joined once; the queue is empty after."""
        if not self.parts:
            return b""
        out = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return out

    def clear(self) -> None:
        self.parts.clear()
        self.size = 0
