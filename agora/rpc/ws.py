"""JSON-RPC over WebSocket (wsproto), with subscriptions and slow-reader protection.

Frames go straight to the socket until its write buffer is over the limit;
then they wait in a queue. Replies cannot pile up there: a paused socket stops
being read. Subscription pushes can, so a reader more than `ws_queue` messages
behind is told (one error notification per subscription) and closed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from agora.errors import RemoteError
from agora.logs import Log
from agora.rpc.app import App
from agora.rpc.codes import SUBSCRIPTION
from agora.rpc.subscriptions import error_notification
from agora.server import Link, Timer

_log = Log("agora.rpc.ws")

# Close codes (RFC 6455 section 7.4.1).
NORMAL, GOING_AWAY, PROTOCOL_ERROR, UNSUPPORTED_DATA = 1000, 1001, 1002, 1003
POLICY, TOO_BIG = 1008, 1009


class WsSession:
    transport = "ws"

    def __init__(self, app: App, link: Link) -> None:
        self.app = app
        self.link = link
        self.peer = link.addr
        self.closed = False
        cfg = app.config
        self._max = cfg.max_ws_message
        self._qmax = cfg.ws_queue
        self._low = max(1, cfg.ws_queue // 4)
        self._ws = WSConnection(ConnectionType.SERVER)
        self._parts: list[str] = []
        self._size = 0
        self._binary = False
        self._queue: deque[bytes] = deque()
        self._paused = False
        self._room = asyncio.Event()
        self._room.set()
        self._inflight: set[asyncio.Task[None]] = set()
        self._heard = True
        self._ping: Timer | None = None

    def accept(self, headers: Any, target: bytes, leftover: bytes) -> None:
        """Complete the upgrade; raises wsproto's RemoteProtocolError on a bad handshake."""
        self._ws.initiate_upgrade_connection(headers, target)
        for ev in self._ws.events():
            if isinstance(ev, Request):
                self.link.write(self._ws.send(AcceptConnection()))
        self._schedule_ping()
        self.app.sessions.add(self)
        if leftover:
            self.data_received(leftover)

    # --- bytes in ---

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self._heard = True
        self._ws.receive_data(data)
        events = self._ws.events()  # lazily: a close frame must not overtake earlier messages
        while not self.closed:
            try:
                ev = next(events, None)
            except Exception as exc:  # wsproto asserts on some malformed input
                self._close(PROTOCOL_ERROR, "bad frame")
                msg = f"bad WebSocket data: {exc!r}"[:200]
                raise RemoteError(msg, code="bad_websocket") from None
            if ev is None:
                return
            if isinstance(ev, TextMessage | BytesMessage):
                self._message_part(ev)
            elif isinstance(ev, Ping):
                self._write(self._frame(ev.response()))
            elif isinstance(ev, Pong):
                pass  # `_heard` is set already
            elif isinstance(ev, CloseConnection):
                self._remote_closed(ev)

    def _message_part(self, ev: TextMessage | BytesMessage) -> None:
        data = ev.data
        if isinstance(data, str):
            self._size += len(data) if data.isascii() else len(data.encode())
            self._parts.append(data)
        else:
            self._size += len(data)
            self._binary = True
        if self._size > self._max:
            self._close(TOO_BIG, f"message over {self._max} bytes")
            raise RemoteError("WebSocket message too big", code="ws_message_too_big")
        if not ev.message_finished:
            return
        text, binary = "".join(self._parts), self._binary
        self._parts, self._size, self._binary = [], 0, False
        if binary:
            self._close(UNSUPPORTED_DATA, "JSON-RPC goes in text messages")
            raise RemoteError("binary WebSocket message", code="ws_binary")
        self._call(text)

    def _remote_closed(self, ev: CloseConnection) -> None:
        try:
            if self._ws.state is ConnectionState.REMOTE_CLOSING:
                self.link.write(self._ws.send(ev.response()))
            elif self._ws.state is ConnectionState.OPEN:  # wsproto found a protocol error
                self.link.write(self._ws.send(CloseConnection(code=ev.code, reason=ev.reason)))
        except Exception as exc:  # it is closing anyway
            _log.debug("rpc_ws_close_failed", error=repr(exc))
        self.link.close("ws_closed")
        self._end()

    # --- calls ---

    def _call(self, text: str) -> None:
        reply = self.app.dispatcher.dispatch(text, self)
        if isinstance(reply, Coroutine):
            server = self.app.server
            assert server is not None
            task = server.spawn(self._finish(reply))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            if len(self._inflight) >= self.app.config.ws_inflight:
                self.link.pause_reading()
        else:
            self._reply(reply)

    async def _finish(self, coro: Coroutine[Any, Any, bytes | None]) -> None:
        try:
            reply = await coro
        except Exception as exc:  # the dispatcher answers every error itself: a bug
            _log.error("rpc_ws_call_failed", error=repr(exc))
            reply = None
        if not self.closed:
            self._reply(reply)
            if len(self._inflight) <= self.app.config.ws_inflight and not self._paused:
                self.link.resume_reading()

    def _reply(self, reply: bytes | None) -> None:
        if reply is not None:
            self._write(self._text(reply))
        self.app.hub.release(self)  # subscriptions made by this call may speak now

    # --- bytes out ---

    def _text(self, data: bytes) -> bytes:
        return self._frame(TextMessage(data=data.decode()))

    def _frame(self, event: Any) -> bytes:
        if self._ws.state is not ConnectionState.OPEN:
            return b""  # closing: nothing more may be sent
        return self._ws.send(event)

    def _write(self, frame: bytes) -> None:
        if self.closed or not frame:
            return
        if self._paused or self._queue:
            self._queue.append(frame)
            if len(self._queue) >= self._low:
                self._room.clear()
        else:
            self.link.write(frame)

    def push(self, data: bytes) -> None:
        """A subscription notification; a reader too far behind is dropped."""
        if self.closed:
            return
        if len(self._queue) >= self._qmax:
            self._lagged()
            return
        self._write(self._text(data))

    async def room(self) -> None:
        while not self.closed and (self._paused or len(self._queue) >= self._low):
            self._room.clear()
            await self._room.wait()

    def _lagged(self) -> None:
        self.app.metrics.rpc_lagged.inc()
        _log.info("rpc_ws_lagged", peer=self.peer, queued=len(self._queue))
        error = {
            "code": SUBSCRIPTION,
            "message": "subscriber lagged: reading too slowly",
            "data": {"code": "subscriber_lagged"},
        }
        self._queue.clear()  # whole frames: dropping them keeps the stream well formed
        for sid in self.app.hub.ids(self):
            self.link.write(self._text(error_notification(sid, error)))
        self._close(POLICY, "subscriber lagged")

    def pause_writing(self) -> None:
        self._paused = True
        self._room.clear()
        self.link.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        while self._queue and not self._paused:
            self.link.write(self._queue.popleft())
        if not self._paused:
            if len(self._queue) < self._low:
                self._room.set()
            if len(self._inflight) < self.app.config.ws_inflight:
                self.link.resume_reading()

    # --- liveness and the end ---

    def _schedule_ping(self) -> None:
        server = self.app.server
        if server is not None and not self.closed:
            self._ping = server.call_later(self.app.config.ws_ping_interval, self._tick)

    def _tick(self) -> None:
        if self.closed:
            return
        if not self._heard:
            _log.info("rpc_ws_unresponsive", peer=self.peer)
            self.link.abort("ws_ping_timeout")
            self._end()
            return
        self._heard = False
        self._write(self._frame(Ping(payload=b"agora")))
        self._schedule_ping()

    def _close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        try:
            if self._ws.state is ConnectionState.OPEN:
                self.link.write(self._ws.send(CloseConnection(code=code, reason=reason)))
        finally:
            self.link.close(f"ws_close_{code}")
            self._end()

    def close_going_away(self) -> None:
        self._close(GOING_AWAY, "server stopping")

    def connection_lost(self, exc: BaseException | None) -> None:
        self._end()

    def _end(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.app.sessions.discard(self)
        self._queue.clear()
        self._room.set()
        if self._ping is not None:
            self._ping.cancel()
        self.app.hub.drop(self)
        for task in list(self._inflight):
            task.cancel()
