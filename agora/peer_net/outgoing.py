"""The outgoing side of a connection: packets waiting to be sealed, then frames for the socket.

Bounded in bytes. A packet that does not fit is refused (the caller decides:
drop a gossip message, fail a request). Control messages (handshake,
DISCONNECT) are small and always go in, so a connection can always say why
it closes.

Packets are queued in the clear (`pending`) and sealed together when the
connection's bytes are taken: a run of them becomes one BATCH frame
(batch.py), so the AEAD call and the header are paid once for the run. Only
what is already queued is coalesced; nothing waits for more.
"""

from __future__ import annotations

from collections.abc import Callable

from agora.peer_net import batch
from agora.peer_net.header import HEADER_SIZE

Chunk = bytes | bytearray | memoryview
Seal = Callable[[int, int, int, bytes, list[Chunk]], int]  # CryptoSession.seal


class Outgoing:
    __slots__ = ("batch_bytes", "budget", "parts", "pending", "pending_size", "size")

    def __init__(self, budget: int, batch_bytes: int = batch.TARGET_BYTES) -> None:
        self.budget = budget
        self.batch_bytes = batch_bytes  # the most body a BATCH frame gets
        self.size = 0  # bytes sealed and queued
        self.parts: list[Chunk] = []  # sealed frames, in pieces; joined by `take`
        self.pending: list[batch.Packet] = []  # queued packets, not sealed yet
        self.pending_size = 0  # what they would take as lone frames

    @property
    def total(self) -> int:
        """Bytes queued, counting a packet not sealed yet as a lone frame."""
        return self.size + self.pending_size

    def fits(self, size: int) -> bool:
        return self.size + self.pending_size + size <= self.budget

    def queue(self, code: int, flags: int, msg_id: int, body: bytes) -> bool:
        """Queue one packet for sealing; False if it would go over budget."""
        size = len(body) + HEADER_SIZE
        if self.size + self.pending_size + size > self.budget:
            return False
        self.pending.append((code, flags, msg_id, body))
        self.pending_size += size
        return True

    def seal_pending(self, seal: Seal) -> None:
        """Seal the queued packets in order: runs of them as BATCH frames, a lone one alone."""
        parts = self.parts
        for code, flags, msg_id, body in batch.coalesce(self.pending, self.batch_bytes):
            self.size += seal(code, flags, msg_id, body, parts)
        self.pending.clear()
        self.pending_size = 0

    def push(self, *parts: Chunk) -> bool:
        """Queue one sealed frame, given whole or in pieces; False if over budget."""
        size = sum(len(p) for p in parts) if len(parts) != 1 else len(parts[0])
        if not self.fits(size):
            return False
        self.parts.extend(parts)
        self.size += size
        return True

    def push_control(self, *parts: Chunk) -> None:
        """Queue a control frame even when over budget."""
        self.parts.extend(parts)
        self.size += sum(len(p) for p in parts)

    def take(self) -> bytes:
        """Everything sealed, joined once; empty after. Call `seal_pending` first."""
        if not self.parts:
            return b""
        out = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return out

    def clear(self) -> None:
        self.parts.clear()
        self.size = 0
        self.pending.clear()
        self.pending_size = 0
