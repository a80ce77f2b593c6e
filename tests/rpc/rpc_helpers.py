"""Test helpers for tests/rpc: run an RpcServer in a test, and small HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import h11
import msgspec
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from agora.rpc.server import RpcServer
from agora.runtime import run as _run

T = TypeVar("T")
Addr = tuple[str, int]


def run(coro: Coroutine[Any, Any, T], limit: float = 30.0) -> T:
    """Run a test coroutine on a fresh loop, never for more than `limit` seconds."""
    return _run(coro, timeout=limit)  # on uvloop, as a node runs


@contextlib.asynccontextmanager
async def serving(rpc: RpcServer, froms: Any = ()) -> AsyncIterator[Addr]:
    task = asyncio.ensure_future(rpc.run(froms))
    try:
        yield await rpc.wait_started()
    finally:
        rpc.stop()
        await asyncio.wait_for(task, 10)


class FakeSession:
    """A caller for the sans-IO dispatcher."""

    transport = "http"
    peer = ("127.0.0.1", 1)


class Response(msgspec.Struct):
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class HttpClient:
    """One keep-alive HTTP/1.1 connection, parsed with h11's client side."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def connect(cls, addr: Addr) -> HttpClient:
        r, w = await asyncio.open_connection(*addr)
        return cls(r, w)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        await self.send(method, path, body, headers)
        return await self.response()

    async def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        hs = [("host", "test"), *(headers or [])]
        if body is not None:
            hs.append(("content-length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=path, headers=hs)) or b""
        if body:
            data += self.conn.send(h11.Data(data=body)) or b""
        data += self.conn.send(h11.EndOfMessage()) or b""
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> Response:
        status, headers, body = 0, {}, bytearray()
        for _ in range(10_000):
            ev = self.conn.next_event()
            if ev is h11.NEED_DATA:
                data = await asyncio.wait_for(self.reader.read(65536), 10)
                self.conn.receive_data(data)
                continue
            if isinstance(ev, h11.Response):
                status = ev.status_code
                headers = {k.decode(): v.decode() for k, v in ev.headers}
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
                    self.conn.start_next_cycle()
                return Response(status, headers, bytes(body))
            elif isinstance(ev, h11.ConnectionClosed):
                raise ConnectionError("closed before a response")
        raise AssertionError("no response")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def read_responses(reader: asyncio.StreamReader, n: int) -> list[Response]:
    """Parse `n` responses to requests that were written raw."""
    c = HttpClient(reader, None)  # type: ignore[arg-type]
    out = []
    for _ in range(n):
        # h11 wants to have sent a request before it reads a response.
        c.conn.send(h11.Request(method="GET", target="/", headers=[("host", "t")]))
        c.conn.send(h11.EndOfMessage())
        out.append(await c.response())
    return out


async def rpc_call(addr: Addr, method: str, params: Any = None, id: Any = 1) -> Any:
    """One JSON-RPC call over a fresh HTTP connection; the decoded response."""
    doc: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        doc["params"] = params
    c = await HttpClient.connect(addr)
    try:
        r = await c.request(
            "POST", "/", msgspec.json.encode(doc), [("content-type", "application/json")]
        )
        assert r.status == 200, r
        return r.json()
    finally:
        await c.close()


async def raw_exchange(addr: Addr, data: bytes, wait: float = 5.0) -> bytes:
    """Send raw bytes and read until the server closes (or `wait` passes)."""
    r, w = await asyncio.open_connection(*addr)
    w.write(data)
    await w.drain()
    out = bytearray()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(wait):
            while chunk := await r.read(65536):
                out += chunk
    w.close()
    return bytes(out)


class WsClient:
    """A minimal WebSocket client on wsproto; answers pings unless told not to."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.closed: CloseConnection | None = None
        self._parts: list[str] = []
        self._ready: list[Any] = []
        self.answer_pings = True
        self._ids = 0

    @classmethod
    async def connect(cls, addr: Addr, path: str = "/ws") -> WsClient:
        r, w = await asyncio.open_connection(*addr)
        c = cls(r, w)
        w.write(c.ws.send(Request(host="test", target=path)))
        for _ in range(100):
            c.ws.receive_data(await asyncio.wait_for(r.read(65536), 10))
            for ev in c.ws.events():
                if isinstance(ev, AcceptConnection):
                    return c
                if isinstance(ev, RejectConnection):
                    raise ConnectionError(f"rejected: {ev.status_code}")
        raise AssertionError("no handshake")

    async def send_text(self, text: str) -> None:
        self.writer.write(self.ws.send(TextMessage(data=text)))
        await self.writer.drain()

    async def send(self, doc: Any) -> None:
        await self.send_text(msgspec.json.encode(doc).decode())

    async def call(self, method: str, params: Any = None) -> Any:
        """Send a request and wait for the response with its id (notifications are kept)."""
        self._ids += 1
        doc: dict[str, Any] = {"jsonrpc": "2.0", "id": self._ids, "method": method}
        if params is not None:
            doc["params"] = params
        await self.send(doc)
        for _ in range(100_000):
            for i, msg in enumerate(self._ready):
                if isinstance(msg, dict) and msg.get("id") == self._ids:
                    del self._ready[i]
                    return msg
            await self._read_more()
        raise AssertionError("no response")

    async def recv(self) -> Any:
        """The next decoded message (response or notification)."""
        for _ in range(100_000):
            if self._ready:
                return self._ready.pop(0)
            await self._read_more()
        raise AssertionError("nothing received")

    async def _read_more(self) -> None:
        if self.closed is not None:
            raise ConnectionError(f"closed: {self.closed.code} {self.closed.reason}")
        data = await asyncio.wait_for(self.reader.read(65536), 10)
        if not data:
            self.closed = CloseConnection(code=1006, reason="eof")
        self.ws.receive_data(data or None)
        for ev in self.ws.events():
            if isinstance(ev, Message):
                assert isinstance(ev, TextMessage), ev
                self._parts.append(ev.data)
                if ev.message_finished:
                    self._ready.append(msgspec.json.decode("".join(self._parts)))
                    self._parts = []
            elif isinstance(ev, Ping) and self.answer_pings:
                self.writer.write(self.ws.send(ev.response()))
            elif isinstance(ev, CloseConnection):
                self.closed = ev
            assert not isinstance(ev, BytesMessage)

    async def wait_closed(self) -> CloseConnection:
        """Read (keeping messages) until the server closes; its close code and reason."""
        for _ in range(100_000):
            if self.closed is not None:
                return self.closed
            try:
                await self._read_more()
            except ConnectionError:
                break
        assert self.closed is not None
        return self.closed

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
