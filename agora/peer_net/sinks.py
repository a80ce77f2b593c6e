"""The actors' event channels as peer_net writes them: never lose an event, push back.

A handler runs inside a socket callback and cannot wait. When an actor's
channel is full, the event goes to a small overflow queue instead and the
sink says it is `congested`: the service stops reading the peer it was
reading, so the overflow grows by at most one read per peer. `pump()` moves
the overflow into the channel as the actor catches up and then calls
`on_drained`, which resumes those peers. Order is kept: while anything is in
the overflow, new events queue behind it.

While the service handles one read (`hold()` .. `release()`), events are
collected and go into the channel in one `send_many_nowait`: one wake-up and
one type-check loop for a whole read instead of a call per packet.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from agora.logs import Log
from agora.peer_net.messages import NetEvent
from agora.spsc import BrokenChannel, ChannelClosed, Sender, WouldBlock

_log = Log("agora.peer_net.sinks")


class EventSink:
    """Wraps one actor's `Sender[NetEvent]`; what handlers see as its channel."""

    __slots__ = ("_held", "_wake", "dropped", "name", "on_drained", "overflow", "tx")

    def __init__(self, name: str, tx: Sender[NetEvent]) -> None:
        self.name = name
        self.tx = tx
        self.overflow: deque[NetEvent] = deque()
        self.on_drained: Callable[[], None] = _nothing
        self.dropped = 0  # events for an actor that has gone away
        self._wake = asyncio.Event()
        self._held: list[NetEvent] | None = None  # collecting between hold() and release()

    @property
    def congested(self) -> bool:
        return bool(self.overflow)

    def send_nowait(self, item: NetEvent, /) -> None:
        held = self._held
        if held is not None:
            held.append(item)
            return
        if self.overflow:
            self.overflow.append(item)
            return
        try:
            self.tx.send_nowait(item)
        except WouldBlock:
            self.overflow.append(item)
            self._wake.set()
        except (BrokenChannel, ChannelClosed):
            self._gone(1)

    def hold(self) -> None:
        """Collect events from now on until `release()`."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Send what was collected, in order, with one `send_many_nowait`."""
        items, self._held = self._held, None
        if not items:
            return
        if self.overflow:
            self.overflow.extend(items)
            return
        try:
            n = self.tx.send_many_nowait(items)
        except (BrokenChannel, ChannelClosed):
            self._gone(len(items))
            return
        if n < len(items):
            self.overflow.extend(items[n:])
            self._wake.set()

    def _gone(self, n: int) -> None:
        if not self.dropped:
            _log.info("actor_channel_closed", channel=self.name)
        self.dropped += n

    async def pump(self) -> None:
        """Move the overflow into the channel as it drains; runs until cancelled."""
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
            self.on_drained()

    def close(self) -> None:
        """No more events: the actor sees the end of its channel once it has drained."""
        self.tx.close()


def _nothing() -> None:
    pass
