"""Single-producer single-consumer channels between actors, with trio's meanings.

A channel is bounded and typed, and each end may live on its own thread (with
its own event loop, or none for a producer that only uses `send_nowait`).

No lock is taken. Under the GIL a deque append or popleft is atomic; a waiter
is published before the buffer is checked again, and the other side reads the
waiter after changing the buffer, so one of them always sees the other and no
wakeup is lost (a free-threaded build without the GIL would need a lock). A
waiter on the caller's own loop is woken directly, one on another loop through
`call_soon_threadsafe`. Without a waiter (the common case) a send is a type
check, a length check and an append.

An end belongs to one task at a time: a second task waiting on the same end
gets `channel_busy`. `send` and `receive` do not yield when they need not wait.
"""

from __future__ import annotations

import asyncio
import types
import typing
from collections import deque
from collections.abc import Sequence
from itertools import repeat
from typing import Any, Generic, TypeVar, overload

from agora.errors import LocalError

T = TypeVar("T")
_popleft = deque.popleft


class ChannelClosed(LocalError):
    """This end was used after it was closed."""

    code = "channel_closed"


class BrokenChannel(LocalError):
    """Sending, but the receiving end has been closed."""

    code = "channel_broken"


class EndOfChannel(Exception):
    """Not an error: the sender closed and every buffered item was received."""


class WouldBlock(Exception):
    """A `*_nowait` call would have had to wait (buffer full, or empty)."""


class _Waiter:
    """One task waiting on one end; `armed` spares repeated cross-thread wakes."""

    __slots__ = ("armed", "fut", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fut: asyncio.Future[None] = loop.create_future()
        self.armed = True


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake(w: _Waiter) -> None:
    w.armed = False
    if w.loop is asyncio._get_running_loop():
        _resolve(w.fut)
    else:
        try:
            w.loop.call_soon_threadsafe(_resolve, w.fut)
        except RuntimeError:  # that loop is closed: nobody waits there any more
            pass


class _Shared:
    __slots__ = ("name", "recv_closed", "rwaiter", "send_closed", "swaiter")

    def __init__(self, name: str) -> None:
        self.name = name
        self.send_closed = False
        self.recv_closed = False
        self.rwaiter: _Waiter | None = None  # set only by the receiving side
        self.swaiter: _Waiter | None = None  # set only by the sending side


async def _wait(ch: _Shared, attr: str, ready: typing.Callable[[], bool]) -> None:
    """Wait until `ready()`: publish a waiter, check again, then sleep on it."""
    while not ready():
        if getattr(ch, attr) is not None:
            raise LocalError(
                f"channel {ch.name!r}: another task waits on this end", code="channel_busy"
            )
        w = _Waiter(asyncio.get_running_loop())
        setattr(ch, attr, w)
        try:
            if ready():
                return
            await w.fut
        finally:
            setattr(ch, attr, None)


class Sender(Generic[T]):
    """The producing end. Not shared: one thread, one task at a time."""

    __slots__ = ("_cap", "_ch", "_closed", "_q", "_type")

    def __init__(self, ch: _Shared, q: deque[T], capacity: int, check: Any) -> None:
        self._ch = ch
        self._q = q
        self._cap = capacity
        self._type = check
        self._closed = False

    def send_nowait(self, item: T) -> None:
        if not isinstance(item, self._type):
            self._wrong_type(item)
        if self._closed or self._ch.recv_closed:
            self._raise_closed()
        q = self._q
        if len(q) >= self._cap:
            raise WouldBlock(self._ch.name)
        q.append(item)
        w = self._ch.rwaiter
        if w is not None and w.armed:
            _wake(w)

    def send_many_nowait(self, items: Sequence[T]) -> int:
        """Send `items` from the front while there is room; how many were sent (0 if full).

        Every item is type-checked before any is sent; the receiver is woken once.
        """
        check = self._type
        for item in items:
            if not isinstance(item, check):
                self._wrong_type(item)
        if self._closed or self._ch.recv_closed:
            self._raise_closed()
        q = self._q
        n = min(len(items), self._cap - len(q))
        if n <= 0:
            return 0
        q.extend(items if n == len(items) else items[:n])  # one C call: atomic under the GIL
        w = self._ch.rwaiter
        if w is not None and w.armed:
            _wake(w)
        return n

    async def send(self, item: T) -> None:
        """Send, waiting while the buffer is full."""
        if len(self._q) >= self._cap:
            if not isinstance(item, self._type):
                self._wrong_type(item)
            await _wait(self._ch, "swaiter", self._can_send)
        self.send_nowait(item)

    def _can_send(self) -> bool:
        return len(self._q) < self._cap or self._closed or self._ch.recv_closed

    def _wrong_type(self, item: object) -> typing.NoReturn:
        raise LocalError(
            f"channel {self._ch.name!r} carries {self._type!r}, not {type(item).__name__}",
            code="channel_wrong_type",
        )

    def _raise_closed(self) -> typing.NoReturn:
        if self._closed:
            raise ChannelClosed(f"channel {self._ch.name!r}: sender already closed")
        raise BrokenChannel(f"channel {self._ch.name!r}: receiver closed")

    def close(self) -> None:
        """No more items; the receiver gets EndOfChannel once it has drained."""
        if self._closed:
            return
        self._closed = True
        ch = self._ch
        ch.send_closed = True
        for w in (ch.rwaiter, ch.swaiter):
            if w is not None:
                _wake(w)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def capacity(self) -> int:
        return self._cap

    def __len__(self) -> int:
        return len(self._q)

    def __enter__(self) -> Sender[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Sender {self._ch.name!r} {len(self._q)}/{self._cap}>"


class Receiver(Generic[T]):
    """The consuming end. Not shared: one thread, one task at a time."""

    __slots__ = ("_cap", "_ch", "_closed", "_q")

    def __init__(self, ch: _Shared, q: deque[T], capacity: int) -> None:
        self._ch = ch
        self._q = q
        self._cap = capacity
        self._closed = False

    def receive_nowait(self) -> T:
        ended = self._ch.send_closed  # read before the buffer: see `close` ordering
        q = self._q
        if q and not self._closed:
            item = q.popleft()
            w = self._ch.swaiter
            if w is not None and w.armed:
                _wake(w)
            return item
        self._raise_empty(ended)

    def receive_many_nowait(self, max_items: int) -> list[T]:
        """Up to `max_items` buffered items at once (never an empty list)."""
        ended = self._ch.send_closed
        q = self._q
        n = len(q)
        if n and not self._closed:
            # Only this side pops, so at least n items stay there meanwhile.
            items = list(map(_popleft, repeat(q, min(n, max_items))))  # the loop in C
            w = self._ch.swaiter
            if w is not None and w.armed:
                _wake(w)
            return items
        self._raise_empty(ended)

    async def wait_readable(self) -> None:
        """Return once a `*_nowait` receive would not raise WouldBlock."""
        if not self._q:
            await _wait(self._ch, "rwaiter", self._readable)

    async def receive(self) -> T:
        if not self._q:
            await _wait(self._ch, "rwaiter", self._readable)
        return self.receive_nowait()

    async def receive_many(self, max_items: int) -> list[T]:
        """Wait for at least one item, then take up to `max_items`."""
        if not self._q:
            await _wait(self._ch, "rwaiter", self._readable)
        return self.receive_many_nowait(max_items)

    def _readable(self) -> bool:
        return bool(self._q) or self._closed or self._ch.send_closed

    def _raise_empty(self, ended: bool) -> typing.NoReturn:
        if self._closed:
            raise ChannelClosed(f"channel {self._ch.name!r}: receiver already closed")
        if ended:
            raise EndOfChannel(self._ch.name)
        raise WouldBlock(self._ch.name)

    def close(self) -> None:
        """Drop what is buffered; the sender's next send raises BrokenChannel."""
        if self._closed:
            return
        self._closed = True
        ch = self._ch
        ch.recv_closed = True
        self._q.clear()
        for w in (ch.swaiter, ch.rwaiter):
            if w is not None:
                _wake(w)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def capacity(self) -> int:
        return self._cap

    def __len__(self) -> int:
        return len(self._q)

    def __aiter__(self) -> Receiver[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except EndOfChannel:
            raise StopAsyncIteration from None

    def __enter__(self) -> Receiver[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Receiver {self._ch.name!r} {len(self._q)}/{self._cap}>"


def _isinstance_arg(item_type: Any) -> type | tuple[type, ...]:
    """`item_type` as `isinstance` checks it fastest: a class or a flat tuple."""
    if item_type is Any:
        return object
    if isinstance(item_type, type):
        return item_type
    if isinstance(item_type, types.UnionType) or typing.get_origin(item_type) is typing.Union:
        args = typing.get_args(item_type)
        if all(isinstance(a, type) for a in args):
            return tuple(args)
    raise LocalError(
        f"channel item type must be a class or a union of classes: {item_type!r}",
        code="channel_bad_type",
    )


@overload
def channel(capacity: int, item_type: type[T], name: str = "") -> tuple[Sender[T], Receiver[T]]: ...
@overload
def channel(capacity: int, item_type: Any, name: str = "") -> tuple[Sender[Any], Receiver[Any]]: ...
def channel(capacity: int, item_type: Any, name: str = "") -> tuple[Sender[Any], Receiver[Any]]:
    """A bounded channel of `item_type` (a class or `A | B`), holding at most `capacity`.

    For a union, annotate the ends: `tx: Sender[Msg]; rx: Receiver[Msg]; tx, rx = channel(64, Msg)`.
    """
    if not isinstance(capacity, int) or capacity < 1:
        raise LocalError(
            f"channel capacity must be >= 1, not {capacity!r}", code="channel_bad_capacity"
        )
    check = _isinstance_arg(item_type)
    ch = _Shared(name)
    q: deque[Any] = deque()
    return Sender(ch, q, capacity, check), Receiver(ch, q, capacity)
