"""`Outbox`: an actor's sending end that never blocks its caller and keeps order.

The consensus core's actions are carried out synchronously (the WAL fsync must
come before the broadcast it records), so they cannot wait for a full channel.
An item that does not fit waits in a small overflow queue, moved into the
channel by `pump()` as the consumer catches up; while anything waits there,
newer items queue behind it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from agora.spsc import BrokenChannel, ChannelClosed, Sender, WouldBlock

T = TypeVar("T")


class Outbox(Generic[T]):
    def __init__(self, tx: Sender[T]) -> None:
        self.tx = tx
        self.overflow: deque[T] = deque()
        self.dropped = 0  # items for a consumer that has gone away
        self._wake = asyncio.Event()

    def put(self, item: T) -> None:
        if self.overflow:
            self.overflow.append(item)
            return
        try:
            self.tx.send_nowait(item)
        except WouldBlock:
            self.overflow.append(item)
            self._wake.set()
        except (BrokenChannel, ChannelClosed):
            self.dropped += 1

    async def pump(self) -> None:
        """Move the overflow into the channel; runs until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            q = self.overflow
            while q:
                try:
                    await self.tx.send(q[0])
                except (BrokenChannel, ChannelClosed):
                    self.dropped += len(q)
                    q.clear()
                    break
                q.popleft()

    def close(self) -> None:
        self.tx.close()
