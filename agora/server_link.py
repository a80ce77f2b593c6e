"""The connection side of the generic server: `Link`, `Handler` and `LinkTable`.

`LinkTable` owns the server's connections: it asks `allow_connection`, makes
each connection's Handler, forwards asyncio's callbacks to it, and turns a
handler's exception into a report to `handle_errored` and the closing of that
one connection. `server.py` re-exports the public names.
"""

from __future__ import annotations

import asyncio
import itertools
import traceback
import typing
from collections.abc import Callable
from typing import Any, Protocol

from agora.errors import AgoraError, LocalError, RemoteError
from agora.logs import Log

Addr = tuple[str, int]
AllowConnection = Callable[[Addr, bool], bool]


class Handler(Protocol):
    """One per connection, made by the service; callbacks run on the server's loop."""

    def connection_made(self, link: Link) -> None: ...
    def data_received(self, data: bytes) -> None: ...  # may raise AgoraError
    def eof_received(self) -> None: ...  # the connection closes after it
    def connection_lost(self, exc: BaseException | None) -> None: ...
    def pause_writing(self) -> None: ...  # the write buffer went over the high mark
    def resume_writing(self) -> None: ...  # and back under the low one


class BaseHandler:
    """A Handler that ignores everything; subclass and override what you need.

    The class itself is a handler factory: `Server("echo", MyHandler)`.
    """

    def __init__(self, link: Link) -> None:
        self.link = link

    def connection_made(self, link: Link) -> None:
        self.link = link

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        pass

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass


class Link:
    """The server's side of one TCP connection."""

    __slots__ = ("_abort", "_close_timeout", "_t", "addr", "close_reason", "id", "inbound", "local")

    def __init__(
        self,
        id: int,
        addr: Addr,
        local: Addr,
        inbound: bool,
        transport: asyncio.Transport,
        close_timeout: float | None,
    ) -> None:
        self.id = id
        self.addr = addr  # the remote end
        self.local = local
        self.inbound = inbound
        self.close_reason: str | None = None  # set once it is closing
        self._t = transport
        self._close_timeout = close_timeout
        self._abort: asyncio.TimerHandle | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue bytes to send; ignored once the link is closing."""
        if self.close_reason is None:
            self._t.write(data)

    def close(self, reason: str = "closed") -> None:
        """Stop reading, flush what is queued, then close (abort if that takes too long)."""
        if self.close_reason is not None:
            return
        self.close_reason = reason or "closed"
        self._t.close()
        if self._close_timeout is not None:
            loop = asyncio.get_running_loop()
            self._abort = loop.call_later(self._close_timeout, self._t.abort)

    def abort(self, reason: str = "aborted") -> None:
        """Close at once, dropping anything not yet sent."""
        if self.close_reason is None:
            self.close_reason = reason or "aborted"
        self._t.abort()

    @property
    def closing(self) -> bool:
        return self.close_reason is not None

    def pause_reading(self) -> None:
        if self.close_reason is None and self._t.is_reading():
            self._t.pause_reading()

    def resume_reading(self) -> None:
        if self.close_reason is None and not self._t.is_reading():
            self._t.resume_reading()

    @property
    def write_buffer_size(self) -> int:
        return self._t.get_write_buffer_size()

    def _ended(self, exc: BaseException | None) -> None:
        if self._abort is not None:
            self._abort.cancel()
            self._abort = None
        if self.close_reason is None:
            self.close_reason = "peer_closed" if exc is None else "lost"

    def __repr__(self) -> str:
        way = "in" if self.inbound else "out"
        return f"<Link {self.id} {way} {self.addr[0]}:{self.addr[1]}>"


class _NoHandler(BaseHandler):
    def __init__(self) -> None:
        pass


_NO_HANDLER: Handler = _NoHandler()  # until the factory has made the real one


def _addr(sockaddr: Any) -> Addr:
    # IPv6 socket addresses also carry flowinfo and scope id.
    return (str(sockaddr[0]), int(sockaddr[1]))


def log_bug(log: Log, server: str, exc: BaseException, where: str, what: object) -> None:
    """Log an exception from our own code (a handler, a callback, a timer)."""
    log.error(
        "internal_error",
        server=server,
        where=where,
        code=exc.code if isinstance(exc, AgoraError) else "internal_bug",
        error=repr(exc),
        item=type(what).__name__,
        trace="".join(traceback.format_exception(exc)),
    )


class Conn(asyncio.Protocol):
    """asyncio's callbacks for one connection, forwarded to its Handler."""

    __slots__ = ("error", "handler", "inbound", "link", "table")

    def __init__(self, table: LinkTable, inbound: bool) -> None:
        self.table = table
        self.inbound = inbound
        self.link: Link | None = None
        self.handler: Handler = _NO_HANDLER
        self.error: AgoraError | None = None  # the first one; the link closes on it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but have its methods.
        self.table.accept(self, typing.cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        try:
            self.handler.data_received(data)
        except Exception as exc:
            self.table.failed(self, exc)

    def eof_received(self) -> bool:
        try:
            self.handler.eof_received()
        except Exception as exc:
            self.table.failed(self, exc)
        return False  # let asyncio close our side too

    def connection_lost(self, exc: BaseException | None) -> None:
        self.table.lost(self, exc)

    def pause_writing(self) -> None:
        try:
            self.handler.pause_writing()
        except Exception as exc:
            self.table.failed(self, exc)

    def resume_writing(self) -> None:
        try:
            self.handler.resume_writing()
        except Exception as exc:
            self.table.failed(self, exc)


class LinkTable:
    """The live connections of one server, and the rules for opening and ending them."""

    def __init__(
        self,
        server: str,
        factory: Callable[[Link], Handler],
        report: Callable[[AgoraError, Addr], None],
        log: Log,
        *,
        max_links: int,
        write_high: int,
        write_low: int,
        close_timeout: float | None,
    ) -> None:
        self.server = server
        self.links: dict[int, Link] = {}
        self.accepting = False
        self.allow: AllowConnection = lambda addr, inbound: True
        self.gone = asyncio.Event()  # set whenever the table becomes empty
        self._factory = factory
        self._report = report
        self._log = log
        self._ids = itertools.count(1)
        self.max_links = max_links
        self.write_high, self.write_low = write_high, write_low
        self.close_timeout = close_timeout

    def accept(self, conn: Conn, transport: asyncio.Transport) -> None:
        peer, sock = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        if peer is None or sock is None:  # reset before we could ask: no peer any more
            conn.error = RemoteError("the connection was reset at once", code="connection_reset")
            transport.abort()
            return
        addr = _addr(peer)
        refused = self._refusal(addr, conn.inbound)
        if refused is not None:
            self._log.debug("connection_refused", server=self.server, addr=addr, reason=refused)
            conn.error = LocalError(f"connection with {addr} refused: {refused}", code=refused)
            transport.abort()
            return
        transport.set_write_buffer_limits(high=self.write_high, low=self.write_low)
        local = _addr(sock)
        link = Link(next(self._ids), addr, local, conn.inbound, transport, self.close_timeout)
        conn.link = link
        self.links[link.id] = link
        try:
            conn.handler = self._factory(link)
            conn.handler.connection_made(link)
        except Exception as exc:
            self.failed(conn, exc)

    def _refusal(self, addr: Addr, inbound: bool) -> str | None:
        if not self.accepting:
            return "server_not_running"
        if len(self.links) >= self.max_links:
            return "too_many_links"
        if inbound:  # a dial asked before connecting
            try:
                if not self.allow(addr, True):
                    return "connection_not_allowed"
            except Exception as exc:
                log_bug(self._log, self.server, exc, "allow_connection", addr)
                return "allow_connection_failed"
        return None

    def failed(self, conn: Conn, exc: Exception) -> None:
        """A handler raised: report it once and close that connection only."""
        if conn.error is not None:
            return
        if isinstance(exc, AgoraError):
            err = exc
        else:
            err = LocalError(f"handler raised {type(exc).__name__}: {exc}", code="handler_bug")
            err.__cause__ = exc
            log_bug(self._log, self.server, exc, "handler", conn.handler)
        conn.error = err
        link = conn.link
        self._report(err, link.addr if link is not None else ("", 0))
        if link is not None:
            link.close(err.code)

    def lost(self, conn: Conn, exc: BaseException | None) -> None:
        link = conn.link
        if link is None:
            return  # refused before it had a handler
        if exc is not None and conn.error is None and link.close_reason is None:
            conn.error = RemoteError(f"connection lost: {exc}", code="connection_lost")
            self._report(conn.error, link.addr)
        link._ended(exc)
        self.links.pop(link.id, None)
        if not self.links:
            self.gone.set()
        try:
            conn.handler.connection_lost(exc)
        except Exception as err:
            log_bug(self._log, self.server, err, "connection_lost", conn.handler)

    def close_all(self, reason: str, *, abort: bool = False) -> None:
        for link in list(self.links.values()):
            if abort:
                link.abort(reason)
            else:
                link.close(reason)
