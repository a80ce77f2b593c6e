"""The load generator's wire: JSON-RPC batches over keep-alive HTTP, blocks over WebSocket.

    conn = await HttpRpc.open("127.0.0.1:26657")
    answers = await conn.post(b'[{"jsonrpc":"2.0","id":1,"method":"tx_submit",...}, ...]')
    async with BlockFeed.open(addr) as feed:
        async for arrived_at, block in feed: ...

Bodies are built by the caller from pre-encoded parts, so what the bench
spends per tx on its side is a join and a write; answers are decoded by
msgspec into small structs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from agora.config import parse_addr
from agora.errors import LocalError

IO_TIMEOUT_S = 30.0


class ErrorObj(msgspec.Struct):
    code: int
    message: str = ""
    data: Any = None


class Answer(msgspec.Struct):
    id: Any = None
    result: Any = None
    error: ErrorObj | None = None

    def error_code(self) -> str:
        """The string code of an error answer ("" for a result)."""
        e = self.error
        if e is None:
            return ""
        if isinstance(e.data, dict) and isinstance(e.data.get("code"), str):
            return str(e.data["code"])
        return str(e.code)


_answers = msgspec.json.Decoder(list[Answer] | Answer)


def call_body(method: str, params: Any, id: int) -> bytes:
    doc: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        doc["params"] = params
    return msgspec.json.encode(doc)


class HttpRpc:
    """One keep-alive HTTP/1.1 connection. `post` is one request at a time; `send` and
    `answers` pipeline them (the node answers a connection's requests in order)."""

    def __init__(self, addr: str, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.addr = addr
        self.reader = r
        self.writer = w
        self._head = f"POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n"

    @classmethod
    async def open(cls, addr: str) -> HttpRpc:
        host, port = parse_addr(addr)
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), IO_TIMEOUT_S)
        return cls(addr, r, w)

    async def post(self, body: bytes) -> list[Answer]:
        """POST a JSON-RPC body (single or batch); the answers, in order."""
        await self.send(body)
        return await self.answers()

    async def send(self, body: bytes) -> None:
        """Write one POST, without waiting for its answer."""
        head = f"{self._head}Content-Length: {len(body)}\r\n\r\n".encode()
        self.writer.write(head + body)
        async with asyncio.timeout(IO_TIMEOUT_S):
            await self.writer.drain()

    async def answers(self) -> list[Answer]:
        """The answers to the oldest POST not yet read."""
        async with asyncio.timeout(IO_TIMEOUT_S):
            status_head = await self.reader.readuntil(b"\r\n\r\n")
            lines = status_head.split(b"\r\n")
            status = lines[0].split(b" ", 2)
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            payload = await self.reader.readexactly(length) if length else b""
        if len(status) < 2 or status[1] not in (b"200", b"204"):
            raise LocalError(f"{self.addr}: HTTP {status_head[:100]!r}", code="bad_answer")
        if not payload:
            return []
        got = _answers.decode(payload)
        return got if isinstance(got, list) else [got]

    async def call(self, method: str, params: Any = None) -> Any:
        """One read-only call; on a keep-alive connection the node closed while it sat
        idle (its idle timeout is shorter than a long bench step), reconnect once."""
        body = call_body(method, params, 1)
        try:
            (a,) = await self.post(body)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            fresh = await HttpRpc.open(self.addr)
            self.reader, self.writer = fresh.reader, fresh.writer
            (a,) = await self.post(body)
        if a.error is not None:
            raise LocalError(f"{method}: {a.error.message} [{a.error_code()}]", code="rpc_error")
        return a.result

    def close(self) -> None:
        self.writer.close()


class BlockEventMsg(msgspec.Struct):
    height: int
    time_ms: int
    tx_hashes: list[str]


class _Params(msgspec.Struct):
    subscription: str
    result: BlockEventMsg


class _Note(msgspec.Struct):
    method: str = ""
    params: _Params | None = None
    id: Any = None
    error: ErrorObj | None = None


_note = msgspec.json.Decoder(_Note)


class BlockFeed:
    """`chain_subscribeBlocks` on one node's WebSocket: (arrival time, block) pairs."""

    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.reader = r
        self.writer = w
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._parts: list[str] = []

    @classmethod
    async def open(cls, addr: str) -> BlockFeed:
        host, port = parse_addr(addr)
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), IO_TIMEOUT_S)
        feed = cls(r, w)
        w.write(feed.ws.send(Request(host=addr, target="/ws")))
        async with asyncio.timeout(IO_TIMEOUT_S):
            for _ in range(100):
                feed.ws.receive_data(await r.read(65536))
                for ev in feed.ws.events():
                    if isinstance(ev, AcceptConnection):
                        sub = {"jsonrpc": "2.0", "id": 1, "method": "chain_subscribeBlocks"}
                        w.write(feed.ws.send(TextMessage(msgspec.json.encode(sub).decode())))
                        return feed
                    if isinstance(ev, RejectConnection):
                        raise LocalError(f"{addr}: WebSocket refused", code="bad_answer")
        raise LocalError(f"{addr}: no WebSocket handshake", code="bad_answer")

    async def blocks(self, until: float) -> AsyncIterator[tuple[float, BlockEventMsg]]:
        """Blocks as they arrive, until the monotonic deadline `until` (or the socket ends)."""
        while time.monotonic() < until:
            try:
                async with asyncio.timeout(max(0.01, until - time.monotonic())):
                    data = await self.reader.read(1 << 20)
            except TimeoutError:
                return
            if not data:
                return
            now = time.monotonic()
            self.ws.receive_data(data)
            for ev in self.ws.events():
                if isinstance(ev, TextMessage):
                    self._parts.append(ev.data)
                    if not ev.message_finished:
                        continue
                    text, self._parts = "".join(self._parts), []
                    note = _note.decode(text)
                    if note.error is not None:
                        raise LocalError(f"subscription: {note.error.message}", code="bad_answer")
                    if note.params is not None:
                        yield now, note.params.result
                elif isinstance(ev, Ping):
                    self.writer.write(self.ws.send(ev.response()))
                elif isinstance(ev, CloseConnection):
                    return

    def close(self) -> None:
        self.writer.close()
