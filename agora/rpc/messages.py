"""What other actors send the RPC actor, and the helpers on both ends.

Two messages travel on the RPC actor's inbound channel (`RpcInbound`):
`Publish`, a live event for subscriptions, and `Answer`, the reply to a
question a handler asked another actor (`Context.ask`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import msgspec

from agora.errors import AgoraError, LocalError
from agora.rpc.codes import OVERLOADED, TIMEOUT, RpcError
from agora.spsc import BrokenChannel, ChannelClosed, Sender, WouldBlock


class Publish(msgspec.Struct, frozen=True):
    """A live item on `stream`, published only once the item is durable in the store.

    `seq` counts 1, 2, 3, ... per stream from node start (a `Publisher` numbers
    them); a missing `seq` tells the RPC actor that an event was dropped, and
    the subscriptions on that stream read the store again. `cursor` orders the
    stream's items and increases strictly.
    """

    stream: str
    seq: int
    cursor: int
    item: Any


class Answer(msgspec.Struct, frozen=True):
    """The reply to ticket `ticket`: a `result`, or an `error` (an AgoraError) to raise."""

    ticket: int
    result: Any = None
    error: Any = None


RpcInbound = Publish | Answer


class Publisher:
    """The producer's side of the live streams: numbers events and never blocks."""

    def __init__(self, tx: Sender[Any]) -> None:
        self._tx = tx
        self._seq: dict[str, int] = {}
        self.dropped = 0

    def publish(self, stream: str, cursor: int, item: Any) -> bool:
        """Queue an event; False if the RPC actor is behind (its subscribers will backfill)."""
        seq = self._seq.get(stream, 0) + 1
        self._seq[stream] = seq  # counted even when dropped: that is how the gap shows
        try:
            self._tx.send_nowait(Publish(stream, seq, cursor, item))
        except (WouldBlock, BrokenChannel, ChannelClosed):
            self.dropped += 1
            return False
        return True


class Asks:
    """Questions to other actors in flight, each waiting for its `Answer` by ticket."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._tickets = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    async def ask(self, send: Callable[[int], None], wait_s: float) -> Any:
        """`send(ticket)` the question, then wait up to `wait_s` seconds for its answer."""
        if len(self._waiting) >= self.limit:
            raise RpcError(OVERLOADED, "too many requests in flight", code="overloaded")
        ticket = next(self._tickets)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ticket] = fut
        try:
            send(ticket)
            async with asyncio.timeout(wait_s):
                return await fut
        except TimeoutError:
            raise RpcError(TIMEOUT, "the node did not answer in time", code="timeout") from None
        finally:
            del self._waiting[ticket]

    def answer(self, msg: Answer) -> bool:
        """Wake whoever waits on `msg.ticket`; False if nobody does (it gave up)."""
        fut = self._waiting.get(msg.ticket)
        if fut is None or fut.done():
            return False
        if isinstance(msg.error, AgoraError):
            fut.set_exception(msg.error)
        elif msg.error is not None:
            err = LocalError(f"answer carried {msg.error!r}", code="bad_answer")
            fut.set_exception(err)
        else:
            fut.set_result(msg.result)
        return True
