"""The generic TCP server that peer_net and rpc are built on (DESIGN.md).

One event loop per actor. The server accepts and dials TCP connections and
gives each one's bytes to a `Handler` made by the service (see
`server_link.py`); it drains the actor's inbound spsc channels into
`handle_internal`; it runs the actor's tasks and timers, all in one TaskGroup,
so that `stop()` ends everything and `start()` returns.

A handler that raises closes only its own connection: the error goes to
`handle_errored` (an exception that is not an AgoraError is our bug and is
wrapped as LocalError `handler_bug`). Nothing a remote sends stops the server.
An exception escaping a task given to `spawn` is a bug and does stop it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from agora.errors import AgoraError, LocalError, RemoteError
from agora.logs import Log
from agora.server_link import (
    Addr,
    AllowConnection,
    BaseHandler,
    Conn,
    Handler,
    Link,
    LinkTable,
    log_bug,
)
from agora.spsc import EndOfChannel, Receiver

__all__ = ["Addr", "BaseHandler", "Handler", "Link", "Server", "Timer"]

T = TypeVar("T")
HandleErrored = Callable[[AgoraError, Addr, "Server"], None]
HandleInternal = Callable[[Any, "Server"], None]


def _ignore_error(error: AgoraError, addr: Addr, server: Server) -> None:
    pass


def _allow_all(addr: Addr, inbound: bool) -> bool:
    return True


def _drop(msg: Any, server: Server) -> None:
    pass


class Timer:
    """A callback scheduled by `Server.call_later`; `stop()` cancels it if pending."""

    __slots__ = ("_fn", "_handle", "_server")

    def __init__(self, server: Server, delay: float, fn: Callable[[], None]) -> None:
        self._server = server
        self._fn = fn
        self._handle: asyncio.TimerHandle | None = None
        if server.running:
            self._handle = asyncio.get_running_loop().call_later(delay, self._fire)
            server._timers.add(self)

    def _fire(self) -> None:
        self._server._timers.discard(self)
        self._handle = None
        try:
            self._fn()
        except Exception as exc:
            log_bug(self._server._log, self._server.name, exc, "timer", self._fn)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._server._timers.discard(self)

    @property
    def pending(self) -> bool:
        return self._handle is not None


# The server's lifecycle; any other move is a bug.
_MOVES = {"new": {"running"}, "running": {"stopping"}, "stopping": {"stopped"}}


class Server:
    """Accepts and dials connections, drains inbound channels, runs tasks and timers."""

    def __init__(
        self,
        name: str,
        handler_factory: Callable[[Link], Handler],
        *,
        listen: Addr | None = None,
        max_links: int = 4096,
        backlog: int = 128,
        write_high: int = 1 << 20,
        write_low: int | None = None,
        close_timeout: float | None = 5.0,
        batch: int = 256,
    ) -> None:
        self.name = name
        self.listen = listen  # give an IP address: a name may bind several sockets
        self.backlog = backlog
        self.batch = batch
        self.state = "new"
        self.listen_addr: Addr | None = None  # the bound address, port 0 resolved
        self.started = asyncio.Event()  # set once listening and draining
        self._log = Log(f"agora.server.{name}")
        self._table = LinkTable(
            name,
            handler_factory,
            self._report,
            self._log,
            max_links=max_links,
            write_high=write_high,
            write_low=write_low if write_low is not None else write_high // 4,
            close_timeout=close_timeout,
        )
        self.links: dict[int, Link] = self._table.links
        self._errored: HandleErrored = _ignore_error
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.AbstractServer | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[Timer] = set()
        self._stop = asyncio.Event()
        self._done = asyncio.Event()

    def _move(self, to: str) -> None:
        if to not in _MOVES.get(self.state, ()):
            raise LocalError(f"server {self.name}: {self.state} -> {to}", code="server_bad_state")
        self.state = to
        self._table.accepting = to == "running"

    @property
    def running(self) -> bool:
        return self.state == "running"

    async def start(
        self,
        froms: Sequence[tuple[Receiver[Any], str]] = (),
        handle_internal: HandleInternal = _drop,
        allow_connection: AllowConnection = _allow_all,
        handle_errored: HandleErrored = _ignore_error,
    ) -> None:
        """Listen (if `listen` was given), serve until `stop()`, then close everything.

        The server owns the receivers in `froms` and closes them when it stops.
        """
        self._move("running")
        self._loop = asyncio.get_running_loop()
        self._table.allow, self._errored = allow_connection, handle_errored
        try:
            if self.listen is not None:
                await self._bind(*self.listen)
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                try:
                    for rx, token in froms:
                        self.spawn(
                            self._drain(rx, token, handle_internal), name=f"{self.name}:{token}"
                        )
                    self.started.set()
                    self._log.info("server_started", server=self.name, listen=self.listen_addr)
                    await self._stop.wait()
                    await self._wind_down()
                finally:
                    self._shutdown()
        finally:
            for rx, _ in froms:
                rx.close()
            self._shutdown()
            self.state = "stopped"
            self._done.set()
            self._log.info("server_stopped", server=self.name)

    async def _bind(self, host: str, port: int) -> None:
        assert self._loop is not None
        try:
            self._listener = await self._loop.create_server(
                lambda: Conn(self._table, True), host, port, backlog=self.backlog
            )
        except OSError as exc:
            msg = f"server {self.name} cannot listen on {host}:{port}: {exc}"
            raise LocalError(msg, code="listen_failed") from exc
        sockname = self._listener.sockets[0].getsockname()
        self.listen_addr = (str(sockname[0]), int(sockname[1]))

    def stop(self) -> None:
        """Ask the server to stop; safe from any thread, and more than once."""
        loop = self._loop
        if loop is None or loop is asyncio._get_running_loop():
            self._stop.set()
        else:
            try:
                loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # its loop is closed: it has stopped already
                pass

    async def stopped(self) -> None:
        """Wait until `start()` has finished."""
        await self._done.wait()

    async def wait_started(self) -> Addr | None:
        """Wait until serving and return `listen_addr`; raise if the server ended first."""
        waits = [
            asyncio.ensure_future(self.started.wait()),
            asyncio.ensure_future(self._done.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if not self.started.is_set():
            raise LocalError(f"server {self.name} ended before serving", code="server_not_running")
        return self.listen_addr

    async def _wind_down(self) -> None:
        """The graceful part of stopping: links flush what is queued, then close."""
        self._move("stopping")
        self._shutdown(abort=False)
        if self._listener is not None:
            await self._listener.wait_closed()
        timeout = self._table.close_timeout
        try:
            async with asyncio.timeout(timeout + 0.5 if timeout is not None else None):
                while self.links:
                    self._table.gone.clear()
                    await self._table.gone.wait()
        except TimeoutError:
            pass

    def _shutdown(self, *, abort: bool = True) -> None:
        """Stop listening, cancel timers and tasks, close links (sync, idempotent)."""
        if self.state == "running":
            self._move("stopping")
        if self._listener is not None:
            self._listener.close()
        for timer in list(self._timers):
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        self._table.close_all("server_stopping", abort=abort)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Run `coro` in the server's TaskGroup; it is cancelled when the server stops."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise LocalError(f"server {self.name} has not started", code="server_not_running")
        if self._tg is None or not self.running:
            task = loop.create_task(coro, name=name)
            task.cancel()  # stopping: the coroutine ends before its first step
            return task
        task = self._tg.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        """Call `fn` after `delay` seconds, unless cancelled or the server stops first."""
        return Timer(self, delay, fn)

    async def dial(self, host: str, port: int, timeout: float = 10.0) -> Link:  # noqa: ASYNC109
        """Connect out, if `allow_connection((host, port), False)` agrees."""
        if self._loop is None or not self.running:
            raise LocalError(f"server {self.name} is not running", code="server_not_running")
        if not self._table.allow((host, port), False):
            raise LocalError(f"dialing {host}:{port} is not allowed", code="dial_not_allowed")
        try:
            async with asyncio.timeout(timeout):
                _, conn = await self._loop.create_connection(
                    lambda: Conn(self._table, False), host, port
                )
        except TimeoutError as exc:
            raise RemoteError(f"dial {host}:{port} timed out", code="dial_timeout") from exc
        except OSError as exc:
            raise RemoteError(f"dial {host}:{port} failed: {exc}", code="dial_failed") from exc
        if conn.error is not None:
            raise conn.error
        if conn.link is None:  # closed before it could be set up: the peer's doing
            raise RemoteError(f"dial {host}:{port}: closed at once", code="dial_failed")
        return conn.link

    async def _drain(self, rx: Receiver[Any], token: str, handle: HandleInternal) -> None:
        batch = self.batch
        while True:
            try:
                msgs = await rx.receive_many(batch)
            except EndOfChannel:
                self._log.info("channel_ended", server=self.name, token=token)
                return
            for msg in msgs:
                try:
                    handle(msg, self)
                except Exception as exc:
                    log_bug(self._log, self.name, exc, f"handle_internal:{token}", msg)
            await asyncio.sleep(0)  # a busy channel must not starve the sockets

    def _report(self, err: AgoraError, addr: Addr) -> None:
        try:
            self._errored(err, addr, self)
        except Exception as exc:
            log_bug(self._log, self.name, exc, "handle_errored", err)
