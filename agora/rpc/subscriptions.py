"""Subscriptions that resume from a cursor with no gap and no duplicate.

A topic reads its past from a `Source` (the store) and its future from live
`Publish` events. On subscribe the subscription is registered for live events
first (they are buffered), then the store is read in pages after the cursor
until a page comes back short; then the buffer is drained, dropping what is
not after the last cursor sent, and the subscription is live. Since an event
is published only after its item is durable, an event not in the buffer was
in the store before the first read: nothing is missed, and the cursor check
drops what both paths saw. A dropped event (a `seq` gap) or an overflowing
buffer sends the subscription back to reading the store.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from agora.errors import AgoraError, LocalError, RemoteError
from agora.logs import Log
from agora.rpc.codes import SUBSCRIPTION, ErrorTable, RpcError
from agora.rpc.messages import Publish

_enc = msgspec.json.Encoder()
_log = Log("agora.rpc.subscriptions")


class Source(Protocol):
    """A topic's past, read from the store (these may block: they run on the thread pool)."""

    def head(self, params: Any) -> int:
        """The cursor of the newest item now (a subscription without a cursor starts here)."""
        ...

    def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
        """Up to `limit` (cursor, item) pairs with cursor > `after`, in cursor order."""
        ...

    def matches(self, params: Any, item: Any) -> bool:
        """Whether a live item belongs to a subscription with these params."""
        ...


class Subscriber(Protocol):
    """The connection a subscription writes to (a WebSocket session)."""

    closed: bool

    def push(self, data: bytes) -> None: ...  # may end the session if it lags
    async def room(self) -> None: ...  # until its outbound queue has room again


def int_cursor(raw: Any) -> int:
    """The default cursor: a non-negative integer, or its decimal string."""
    if isinstance(raw, str) and raw.isdigit() and len(raw) < 20:
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 2**63:
        return raw
    raise RemoteError("a cursor is a non-negative integer", code="bad_cursor")


@dataclass(frozen=True)
class Topic:
    """`<area>_subscribe<Thing>`: its params struct must have a `cursor` field with a default."""

    method: str
    stream: str  # the `Publish.stream` it follows
    params: type[msgspec.Struct]
    item: Any  # the item type, for the OpenRPC document
    source: Source
    summary: str = ""
    description: str = ""
    encode_cursor: Callable[[int], Any] = lambda c: c
    decode_cursor: Callable[[Any], int] = int_cursor

    def render(self, cursor: int, item: Any) -> bytes:
        """The notification's `result`: the item's fields with `cursor` first."""
        body = _enc.encode(item)
        head = b'{"cursor":' + _enc.encode(self.encode_cursor(cursor))
        if body == b"{}":
            return head + b"}"
        if body.startswith(b"{"):
            return head + b"," + body[1:]
        return head + b',"item":' + body + b"}"


def notification(sid: str, result: bytes) -> bytes:
    return (
        b'{"jsonrpc":"2.0","method":"subscription","params":{"subscription":"%s","result":%s}}'
        % (
            sid.encode(),
            result,
        )
    )


def error_notification(sid: str, error: dict[str, Any]) -> bytes:
    params = {"subscription": sid, "error": error}
    return _enc.encode({"jsonrpc": "2.0", "method": "subscription", "params": params})


# A subscription's life; any other move is a bug.
_MOVES = {
    "backfill": {"backfill", "live", "closed"},
    "live": {"backfill", "closed"},
    "closed": set(),
}


class Subscription:
    """One subscription, sans-IO: cursors and items in, notification bytes out."""

    def __init__(
        self, sid: str, topic: Topic, params: Any, to: Subscriber, last: int | None, limit: int
    ) -> None:
        self.id = sid
        self.topic = topic
        self.params = params
        self.to = to
        self.last = last  # cursor of the last item sent; None until the head is known
        self.state = "backfill"
        self.driving = False  # a task is reading the store for it
        self.held: list[bytes] | None = []  # output kept until the subscribe reply is sent
        self._buffer: deque[tuple[int, bytes]] = deque()
        self._limit = limit
        self._stale = False

    def _move(self, to: str) -> None:
        if to not in _MOVES[self.state]:
            raise LocalError(f"subscription {self.state} -> {to}", code="bad_transition")
        self.state = to

    def _emit(self, cursor: int, result: bytes) -> None:
        self.last = cursor
        data = notification(self.id, result)
        if self.held is not None:
            self.held.append(data)
        else:
            self.to.push(data)

    def release(self) -> None:
        """The subscribe reply went out: send what was held."""
        held, self.held = self.held, None
        for data in held or ():
            self.to.push(data)

    def offer(self, cursor: int, result: bytes) -> None:
        """A live item that matches this subscription."""
        if self.state == "live":
            if self.last is None or cursor > self.last:
                self._emit(cursor, result)
        elif self.state == "backfill":
            self._buffer.append((cursor, result))
            if len(self._buffer) > self._limit:
                self._buffer.clear()  # what it held is in the store: read it from there
                self._stale = True

    def page(self, entries: Sequence[tuple[int, bytes]], full: bool) -> bool:
        """Rendered items read from the store; True while more must be read."""
        if self.state != "backfill":
            return False
        for cursor, result in entries:
            if self.last is None or cursor > self.last:
                self._emit(cursor, result)
        if full or self._stale:
            self._stale = False
            return True
        while self._buffer:
            cursor, result = self._buffer.popleft()
            if self.last is None or cursor > self.last:
                self._emit(cursor, result)
        self._move("live")
        return False

    def resync(self) -> None:
        """Events were lost on the way: read the store again from the last cursor."""
        if self.state == "backfill":
            self._stale = True  # a read in flight may have missed the lost item
        elif self.state == "live":
            self._move("backfill")

    def close(self) -> None:
        if self.state != "closed":
            self._move("closed")
            self._buffer.clear()


class Hub:
    """All subscriptions of one RPC actor, by stream and by connection."""

    def __init__(
        self,
        executor: Executor | None = None,
        *,
        page: int = 100,
        buffer: int = 1000,
        per_session: int = 64,
        errors: ErrorTable | None = None,
    ) -> None:
        self.executor = executor
        self.page_size = page
        self.buffer = buffer
        self.per_session = per_session
        self.errors = errors or ErrorTable()
        self.spawn: Callable[[Coroutine[Any, Any, None]], Any] | None = None  # set by the server
        self._by_stream: dict[str, dict[str, Subscription]] = {}
        self._by_session: dict[Subscriber, dict[str, Subscription]] = {}
        self._seq: dict[str, int] = {}
        self._last: dict[str, int] = {}  # the newest cursor published, per stream

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_session.values())

    def subscribe(self, topic: Topic, params: Any, to: Subscriber) -> str:
        mine = self._by_session.setdefault(to, {})
        if len(mine) >= self.per_session:
            n = self.per_session
            msg = f"at most {n} subscriptions per connection"
            raise RpcError(SUBSCRIPTION, msg, code="too_many_subscriptions")
        raw = getattr(params, "cursor", None)
        # No cursor means "from now": the last item this actor has seen go by
        # (items after it are in the buffer or the store), else the store's head.
        last = self._last.get(topic.stream) if raw is None else topic.decode_cursor(raw)
        sid = secrets.token_hex(8)
        sub = Subscription(sid, topic, params, to, last, self.buffer)
        mine[sid] = sub
        self._by_stream.setdefault(topic.stream, {})[sid] = sub
        self._drive(sub)
        return sid

    def release(self, to: Subscriber) -> None:
        """Called by the connection after it sent a reply: held subscriptions may speak."""
        mine = self._by_session.get(to, {})
        for sub in list(mine.values()):
            if sub.held is not None:
                sub.release()
                if sub.state == "closed":  # it failed before its reply went out
                    del mine[sub.id]

    def ids(self, to: Subscriber) -> list[str]:
        return list(self._by_session.get(to, {}))

    def unsubscribe(self, sid: str, to: Subscriber) -> bool:
        sub = self._by_session.get(to, {}).pop(sid, None)
        if sub is None:
            return False
        self._forget(sub)
        return True

    def drop(self, to: Subscriber) -> None:
        """The connection is gone: end its subscriptions."""
        for sub in self._by_session.pop(to, {}).values():
            self._forget(sub)

    def _forget(self, sub: Subscription) -> None:
        sub.close()
        subs = self._by_stream.get(sub.topic.stream)
        if subs is not None:
            subs.pop(sub.id, None)
            if not subs:
                del self._by_stream[sub.topic.stream]

    def publish(self, ev: Publish) -> None:
        expected = self._seq.get(ev.stream, 0) + 1
        self._seq[ev.stream] = ev.seq
        self._last[ev.stream] = ev.cursor
        subs = self._by_stream.get(ev.stream)
        if not subs:
            return
        if ev.seq != expected:
            _log.info("rpc_stream_gap", stream=ev.stream, expected=expected, got=ev.seq)
            for sub in list(subs.values()):
                sub.resync()
                self._drive(sub)
        rendered: dict[str, bytes] = {}
        for sub in list(subs.values()):
            topic = sub.topic
            if not topic.source.matches(sub.params, ev.item):
                continue
            result = rendered.get(topic.method)
            if result is None:
                result = rendered[topic.method] = topic.render(ev.cursor, ev.item)
            sub.offer(ev.cursor, result)

    def _drive(self, sub: Subscription) -> None:
        if sub.driving or sub.state != "backfill":
            return
        if self.spawn is None:
            raise LocalError("the hub is not attached to a running server", code="hub_not_running")
        sub.driving = True
        self.spawn(self._backfill(sub))

    async def _backfill(self, sub: Subscription) -> None:
        loop = asyncio.get_running_loop()
        topic, source = sub.topic, sub.topic.source
        try:
            if sub.last is None:
                sub.last = await loop.run_in_executor(self.executor, source.head, sub.params)
            more = True
            while more and sub.state == "backfill":
                await sub.to.room()  # a slow reader slows its backfill, it is not cut off
                if sub.state != "backfill":
                    break
                after = sub.last
                assert after is not None
                rows = await loop.run_in_executor(
                    self.executor, source.backfill, sub.params, after, self.page_size
                )
                rendered = [(c, topic.render(c, item)) for c, item in rows]
                more = sub.page(rendered, len(rows) >= self.page_size)
        except AgoraError as exc:
            self._end(sub, exc)
        except Exception as exc:
            _log.error("rpc_backfill_bug", topic=topic.method, error=repr(exc))
            self._end(sub, LocalError(f"{topic.method} failed", code="internal"))
        finally:
            sub.driving = False

    def _end(self, sub: Subscription, exc: AgoraError) -> None:
        if sub.state == "closed":
            return
        data = error_notification(sub.id, self.errors.error_object(exc))
        self._forget(sub)
        if sub.held is not None:
            sub.held.append(data)  # `release` sends it and forgets the subscription
        else:
            sub.to.push(data)
            self._by_session.get(sub.to, {}).pop(sub.id, None)
