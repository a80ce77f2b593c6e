"""The generic server over real TCP on loopback, on uvloop and on asyncio's loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rt_util import arun, until

from agora import runtime
from agora.errors import AgoraError, LocalError, RemoteError
from agora.server import Addr, BaseHandler, Link, Server
from agora.spsc import Receiver, Sender, channel

LOOPS = ["uvloop", "asyncio"] if runtime.uvloop_available() else ["asyncio"]


@pytest.fixture(params=LOOPS)
def use_uvloop(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "uvloop")


class Echo(BaseHandler):
    """Echoes bytes; b"boom" is a remote's fault, b"bug" is ours."""

    def data_received(self, data: bytes) -> None:
        if b"boom" in data:
            raise RemoteError("peer said boom", code="test_boom", penalty=5)
        if b"bug" in data:
            raise ValueError("handler bug")
        self.link.write(data)


class Errors:
    """A handle_errored that records what it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[AgoraError, Addr]] = []

    def __call__(self, err: AgoraError, addr: Addr, server: Server) -> None:
        self.seen.append((err, addr))


@contextlib.asynccontextmanager
async def serving(server: Server, **start: Any) -> AsyncIterator[Server]:
    task = asyncio.create_task(server.start(**start))
    try:
        await server.wait_started()
        yield server
    finally:
        server.stop()
        await task


async def connect(addr: Addr | None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert addr is not None
    return await asyncio.open_connection(addr[0], addr[1])


async def read_closed(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed (or reset) the connection."""
    try:
        return await reader.read(1) == b""
    except ConnectionError:
        return True


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        pytest.param(
            "::1",
            marks=pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback"),
        ),
    ],
)
def test_echo_over_tcp(host: str, use_uvloop: bool) -> None:
    async def main() -> None:
        async with serving(Server("echo", Echo, listen=(host, 0))) as server:
            assert server.listen_addr is not None and server.listen_addr[0] == host
            assert server.listen_addr[1] != 0
            reader, writer = await connect(server.listen_addr)
            writer.write(b"hello")
            assert await reader.readexactly(5) == b"hello"
            (link,) = server.links.values()
            assert link.inbound and link.addr == writer.get_extra_info("sockname")[:2]
            assert link.local == server.listen_addr
            writer.write(b"x" * 100_000)
            assert await reader.readexactly(100_000) == b"x" * 100_000
            writer.close()
            await until(lambda: not server.links)
            assert link.closing

    arun(main(), use_uvloop=use_uvloop)


class Collect(BaseHandler):
    def __init__(self, link: Link) -> None:
        super().__init__(link)
        self.data = bytearray()

    def data_received(self, data: bytes) -> None:
        self.data += data


def test_dial_asks_allow_connection(use_uvloop: bool) -> None:
    async def main() -> None:
        asked: list[tuple[Addr, bool]] = []

        def allow(addr: Addr, inbound: bool) -> bool:
            asked.append((addr, inbound))
            return addr[1] != 1

        handlers: list[Collect] = []

        def factory(link: Link) -> Collect:
            handlers.append(Collect(link))
            return handlers[-1]

        a = Server("a", Echo, listen=("127.0.0.1", 0))
        b = Server("b", factory)
        async with serving(a), serving(b, allow_connection=allow):
            assert a.listen_addr is not None
            host, port = a.listen_addr
            link = await b.dial(host, port, timeout=5)
            assert not link.inbound and link.addr == (host, port)
            assert asked == [((host, port), False)]
            link.write(b"ping")
            await until(lambda: bytes(handlers[0].data) == b"ping")
            (inbound,) = a.links.values()
            assert inbound.inbound and inbound.addr == link.local

            with pytest.raises(LocalError) as refused:
                await b.dial(host, 1, timeout=5)
            assert refused.value.code == "dial_not_allowed"

            with socket.socket() as s:  # a port that nobody listens on
                s.bind(("127.0.0.1", 0))
                free = s.getsockname()[1]
            with pytest.raises(RemoteError) as failed:
                await b.dial("127.0.0.1", free, timeout=5)
            assert failed.value.code == "dial_failed"
            assert len(a.links) == 1 and len(b.links) == 1

    arun(main(), use_uvloop=use_uvloop)


def test_refused_inbound_connection_is_closed_at_once(use_uvloop: bool) -> None:
    async def main() -> None:
        asked: list[tuple[Addr, bool]] = []
        made: list[Link] = []

        def allow(addr: Addr, inbound: bool) -> bool:
            asked.append((addr, inbound))
            return False

        def factory(link: Link) -> Echo:
            made.append(link)
            return Echo(link)

        server = Server("deny", factory, listen=("127.0.0.1", 0))
        async with serving(server, allow_connection=allow):
            reader, writer = await connect(server.listen_addr)
            assert await read_closed(reader)
            assert asked == [(writer.get_extra_info("sockname")[:2], True)]
            assert made == [] and server.links == {}
            writer.close()

    arun(main(), use_uvloop=use_uvloop)


def test_handler_error_closes_only_its_connection(use_uvloop: bool) -> None:
    async def main() -> None:
        errors = Errors()
        server = Server("errs", Echo, listen=("127.0.0.1", 0))
        async with serving(server, handle_errored=errors):
            r1, w1 = await connect(server.listen_addr)
            r2, w2 = await connect(server.listen_addr)
            r3, w3 = await connect(server.listen_addr)
            w2.write(b"before")
            assert await r2.readexactly(6) == b"before"

            w1.write(b"boom")
            assert await read_closed(r1)
            (err, addr), *_ = errors.seen
            assert isinstance(err, RemoteError) and err.code == "test_boom" and err.penalty == 5
            assert addr == w1.get_extra_info("sockname")[:2]

            w3.write(b"bug")
            assert await read_closed(r3)
            await until(lambda: len(errors.seen) >= 2)
            bug, addr3 = errors.seen[1]
            assert isinstance(bug, LocalError) and bug.code == "handler_bug"
            assert isinstance(bug.__cause__, ValueError)
            assert addr3 == w3.get_extra_info("sockname")[:2]

            w2.write(b"after")
            assert await r2.readexactly(5) == b"after"
            await until(lambda: len(server.links) == 1)
            assert len(errors.seen) == 2
            for w in (w1, w2, w3):
                w.close()

    arun(main(), use_uvloop=use_uvloop)


class Msg:
    __slots__ = ("n", "src")

    def __init__(self, src: str, n: int) -> None:
        self.src, self.n = src, n


def test_internal_messages_arrive_in_order_from_loop_and_thread(use_uvloop: bool) -> None:
    n = 3000
    local_tx, local_rx = channel(32, Msg, "local")
    thread_tx, thread_rx = channel(32, Msg, "thread")

    async def produce(tx: Sender[Msg], src: str) -> None:
        for i in range(n):
            await tx.send(Msg(src, i))
        tx.close()

    producer = runtime.ActorThread(lambda: produce(thread_tx, "thread"), "producer")
    got: dict[str, list[int]] = {"local": [], "thread": []}

    def handle(msg: Any, server: Server) -> None:
        assert isinstance(msg, Msg)
        got[msg.src].append(msg.n)
        if msg.n == 100:
            raise RuntimeError("a bug in handle_internal must not stop the server")
        if len(got["local"]) == n and len(got["thread"]) == n:
            server.stop()

    async def main() -> None:
        server = Server("internal", BaseHandler)
        froms: list[tuple[Receiver[Any], str]] = [(local_rx, "local"), (thread_rx, "thread")]
        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.start(froms, handle))
            await server.wait_started()
            producer.start()
            tg.create_task(produce(local_tx, "local"))
        assert server.state == "stopped"

    try:
        arun(main(), use_uvloop=use_uvloop)
    finally:
        producer.join(10)
    assert got == {"local": list(range(n)), "thread": list(range(n))}
    assert local_rx.closed and thread_rx.closed


def test_timers_tasks_and_stop(use_uvloop: bool) -> None:
    async def main() -> None:
        fired: list[str] = []
        cancelled_task = asyncio.Event()

        async def forever() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled_task.set()
                raise

        server = Server("life", Echo, listen=("127.0.0.1", 0), close_timeout=1.0)
        task = asyncio.create_task(server.start())
        addr = await server.wait_started()
        early = server.call_later(0.01, lambda: fired.append("early"))
        dropped = server.call_later(0.01, lambda: fired.append("dropped"))
        dropped.cancel()
        late = server.call_later(3600, lambda: fired.append("late"))

        def buggy() -> None:
            raise ZeroDivisionError("a bug in a timer must not stop the server")

        server.call_later(0.0, buggy)
        spawned = server.spawn(forever())
        done = server.spawn(asyncio.sleep(0, result=42))
        assert await done == 42
        await until(lambda: fired == ["early"] and not early.pending)
        assert not dropped.pending and late.pending

        reader, writer = await connect(addr)
        writer.write(b"hi")
        assert await reader.readexactly(2) == b"hi"
        server.stop()
        await task
        assert server.state == "stopped" and server.links == {}
        assert await read_closed(reader)
        assert cancelled_task.is_set() and spawned.cancelled()
        assert not late.pending and fired == ["early"]
        with pytest.raises(OSError):
            await connect(addr)
        assert not server.call_later(0, lambda: fired.append("after")).pending
        with pytest.raises(asyncio.CancelledError):
            await server.spawn(asyncio.sleep(0, result=1))  # stopped: it never runs
        with pytest.raises(LocalError) as e:
            await server.dial("127.0.0.1", 1)
        assert e.value.code == "server_not_running"
        writer.close()

    arun(main(), use_uvloop=use_uvloop)


def test_spawned_task_failure_stops_the_server() -> None:
    async def main() -> None:
        server = Server("crash", Echo)

        async def crash() -> None:
            raise ValueError("bug in a task")

        task = asyncio.create_task(server.start())
        await server.wait_started()
        server.spawn(crash())
        with pytest.raises(ExceptionGroup) as e:
            await task
        assert e.group_contains(ValueError)
        assert server.state == "stopped"

    arun(main())


def test_lifecycle_errors() -> None:
    async def main() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            busy = s.getsockname()
            server = Server("busy", Echo, listen=busy)
            task = asyncio.create_task(server.start())
            with pytest.raises(LocalError) as e:
                await server.wait_started()
            assert e.value.code == "server_not_running"
            with pytest.raises(LocalError) as e:
                await task
            assert e.value.code == "listen_failed"
        with pytest.raises(LocalError) as e:
            await server.start()
        assert e.value.code == "server_bad_state"
        fresh = Server("fresh", Echo)
        with pytest.raises(LocalError) as e:
            fresh.spawn(asyncio.sleep(0))
        assert e.value.code == "server_not_running"

    arun(main())


def test_stop_from_another_thread() -> None:
    server = Server("threaded", Echo, listen=("127.0.0.1", 0))
    actor = runtime.ActorThread(server.start, "server")
    actor.start()

    async def main() -> None:
        await until(lambda: server.listen_addr is not None and server.running)
        reader, writer = await connect(server.listen_addr)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        server.stop()
        assert await read_closed(reader)
        writer.close()

    try:
        arun(main())
    finally:
        server.stop()
        actor.join(10)
    assert server.state == "stopped"


class Flood(BaseHandler):
    """On b"go", writes until the link's buffer is over the high mark."""

    chunk = b"z" * 65536

    def __init__(self, link: Link) -> None:
        super().__init__(link)
        self.sent = 0
        self.paused = self.resumed = False
        self.buffered_at_pause = 0

    def data_received(self, data: bytes) -> None:
        while not self.paused and self.sent < (256 << 20):
            self.link.write(self.chunk)
            self.sent += len(self.chunk)

    def pause_writing(self) -> None:
        self.paused = True
        self.buffered_at_pause = self.link.write_buffer_size

    def resume_writing(self) -> None:
        self.resumed = True


def test_write_backpressure_reaches_the_handler(use_uvloop: bool) -> None:
    async def main() -> None:
        made: list[Flood] = []

        def factory(link: Link) -> Flood:
            made.append(Flood(link))
            return made[-1]

        server = Server("flood", factory, listen=("127.0.0.1", 0), write_high=1 << 16)
        async with serving(server):
            reader, writer = await connect(server.listen_addr)
            writer.write(b"go")
            await until(lambda: bool(made) and made[0].paused)
            flood = made[0]
            assert flood.buffered_at_pause > 1 << 16 and not flood.resumed
            data = await reader.readexactly(flood.sent)
            assert len(data) == flood.sent and set(data) == {ord("z")}
            await until(lambda: flood.resumed)
            writer.close()

    arun(main(), use_uvloop=use_uvloop)


class Pauser(BaseHandler):
    """Stops reading after the first bytes; resumes when told to."""

    def __init__(self, link: Link) -> None:
        super().__init__(link)
        self.data = bytearray()
        self.calls_while_paused = 0
        self.paused = False

    def data_received(self, data: bytes) -> None:
        if self.paused:
            self.calls_while_paused += 1
        self.data += data
        if not self.paused and len(self.data) == 1:
            self.paused = True
            self.link.pause_reading()

    def resume(self) -> None:
        self.paused = False
        self.link.resume_reading()


def test_pause_and_resume_reading(use_uvloop: bool) -> None:
    async def main() -> None:
        made: list[Pauser] = []

        def factory(link: Link) -> Pauser:
            made.append(Pauser(link))
            return made[-1]

        server = Server("pause", factory, listen=("127.0.0.1", 0))
        async with serving(server):
            _, writer = await connect(server.listen_addr)
            writer.write(b"a")
            await until(lambda: bool(made) and made[0].paused)
            writer.write(b"b" * 1000)
            await writer.drain()
            await asyncio.sleep(0.05)
            assert bytes(made[0].data) == b"a" and made[0].calls_while_paused == 0
            made[0].resume()
            await until(lambda: len(made[0].data) == 1001)
            writer.close()

    arun(main(), use_uvloop=use_uvloop)


def test_link_limit(use_uvloop: bool) -> None:
    async def main() -> None:
        server = Server("one", Echo, listen=("127.0.0.1", 0), max_links=1)
        async with serving(server):
            r1, w1 = await connect(server.listen_addr)
            w1.write(b"1")
            assert await r1.readexactly(1) == b"1"
            r2, w2 = await connect(server.listen_addr)
            assert await read_closed(r2)
            w1.write(b"2")
            assert await r1.readexactly(1) == b"2"
            for w in (w1, w2):
                w.close()

    arun(main(), use_uvloop=use_uvloop)


def test_reset_by_peer_is_reported_and_harmless(use_uvloop: bool) -> None:
    async def main() -> None:
        errors = Errors()
        server = Server("reset", Echo, listen=("127.0.0.1", 0))
        async with serving(server, handle_errored=errors):
            assert server.listen_addr is not None
            other_r, other_w = await connect(server.listen_addr)
            with socket.create_connection(server.listen_addr) as raw:
                await until(lambda: len(server.links) == 2)
                addr = raw.getsockname()
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await until(lambda: len(server.links) == 1)  # closed with RST
            assert [(e.code, a) for e, a in errors.seen] == [("connection_lost", addr)]
            other_w.write(b"still here")
            assert await other_r.readexactly(10) == b"still here"
            other_w.close()

    arun(main(), use_uvloop=use_uvloop)


class _ResetTransport:
    """A transport whose socket was reset before the protocol was told of it."""

    aborted = False

    def get_extra_info(self, name: str) -> object:
        return None

    def abort(self) -> None:
        self.aborted = True


def test_a_connection_reset_before_it_is_accepted_is_the_peers_error_not_a_crash() -> None:
    from agora.logs import Log
    from agora.server_link import Conn, LinkTable

    table = LinkTable(
        "t", lambda link: None, lambda err, addr: None, Log("t"),  # type: ignore[arg-type,return-value]
        max_links=4, write_high=1 << 16, write_low=1 << 14, close_timeout=None,
    )  # fmt: skip
    table.accepting = True
    conn = Conn(table, inbound=False)
    transport = _ResetTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    assert transport.aborted and conn.link is None and not table.links
    assert conn.error is not None and conn.error.code == "connection_reset"
