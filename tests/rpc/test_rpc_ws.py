"""WebSocket over real TCP: JSON-RPC, subscriptions that resume, limits, pings, slow readers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import msgspec
from rpc_helpers import HttpClient, WsClient, raw_exchange, rpc_call, run, serving
from wsproto.events import Ping, Pong

from agora.rpc.app import RpcConfig
from agora.rpc.messages import Publish, Publisher, RpcInbound
from agora.rpc.methods import Context
from agora.rpc.server import RpcServer
from agora.rpc.subscriptions import Topic
from agora.spsc import Receiver, Sender, channel


class Add(msgspec.Struct):
    a: int
    b: int = 0


class Blocks(msgspec.Struct):
    cursor: int | str | None = None


class Block(msgspec.Struct):
    height: int
    data: str = ""


class Chain:
    """A store of blocks 1..n and the publisher that announces each after storing it."""

    def __init__(self, n: int, tx: Sender[RpcInbound], pad: int = 0) -> None:
        self.lock = threading.Lock()
        self.blocks = [Block(h, "x" * pad) for h in range(1, n + 1)]
        self.pub = Publisher(tx)
        self.pad = pad

    def add(self) -> int:
        with self.lock:
            h = len(self.blocks) + 1
            self.blocks.append(Block(h, "x" * self.pad))
        self.pub.publish("blocks", h, self.blocks[-1])
        return h

    def head(self, params: Any) -> int:
        return len(self.blocks)

    def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
        with self.lock:
            return [(b.height, b) for b in self.blocks[after : after + limit]]

    def matches(self, params: Any, item: Any) -> bool:
        return True


def setup(n: int = 0, pad: int = 0, **cfg: Any) -> tuple[RpcServer, Chain, Receiver[RpcInbound]]:
    rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), **cfg))
    rpc.registry.add("test_add", lambda ctx, p: p.a + p.b, params=Add, result=int)

    async def later(ctx: Context, p: Add) -> int:
        await asyncio.sleep(0.05 if p.a == 0 else 0)
        return p.a

    rpc.registry.add("test_later", later, params=Add, result=int)
    tx: Sender[RpcInbound]
    rx: Receiver[RpcInbound]
    tx, rx = channel(64, Publish)
    chain = Chain(n, tx, pad)
    rpc.add_topic(Topic("chain_subscribeBlocks", "blocks", Blocks, Block, chain))
    return rpc, chain, rx


def test_request_response_on_both_paths() -> None:
    async def scenario() -> None:
        rpc, _, rx = setup()
        async with serving(rpc, [(rx, "events")]) as addr:
            for path in ("/ws", "/"):
                ws = await WsClient.connect(addr, path)
                assert (await ws.call("test_add", [1, 2]))["result"] == 3
                assert (await ws.call("test_add", {"a": "x"}))["error"]["code"] == -32602
                await ws.send_text("{oops")
                assert (await ws.recv())["error"]["code"] == -32700
                await ws.send_text('{"jsonrpc":"2.0","method":"test_add","params":[1]}')  # no reply
                await ws.send([{"jsonrpc": "2.0", "method": "test_add", "params": [5], "id": "b"}])
                assert await ws.recv() == [{"jsonrpc": "2.0", "id": "b", "result": 5}]
                await ws.close()

    run(scenario())


def test_async_calls_answer_out_of_order() -> None:
    async def scenario() -> None:
        rpc, _, rx = setup()
        async with serving(rpc, [(rx, "events")]) as addr:
            ws = await WsClient.connect(addr)
            await ws.send({"jsonrpc": "2.0", "method": "test_later", "params": [0], "id": 1})
            await ws.send({"jsonrpc": "2.0", "method": "test_later", "params": [7], "id": 2})
            first, second = await ws.recv(), await ws.recv()
            assert (first["id"], second["id"]) == (2, 1)  # the slow one did not block the other
            await ws.close()

    run(scenario())


def test_subscription_resumes_after_reconnect_with_no_gap_and_no_duplicate() -> None:
    async def scenario() -> list[int]:
        rpc, chain, rx = setup(n=30, backfill_page=7)
        got: list[int] = []
        async with serving(rpc, [(rx, "events")]) as addr:
            stop = asyncio.Event()

            async def produce() -> None:
                for _ in range(400):
                    if stop.is_set():
                        return
                    chain.add()
                    await asyncio.sleep(0.003)

            producer = asyncio.ensure_future(produce())
            cursor: int | None = 10
            for _ in range(3):  # connect, take some, drop the connection, resume
                ws = await WsClient.connect(addr)
                r = await ws.call("chain_subscribeBlocks", {"cursor": cursor})
                sid = r["result"]
                for _ in range(25):
                    msg = await ws.recv()
                    assert msg["method"] == "subscription"
                    assert msg["params"]["subscription"] == sid
                    res = msg["params"]["result"]
                    assert res["cursor"] == res["height"]
                    got.append(res["height"])
                    cursor = res["cursor"]
                await ws.close()
                await asyncio.sleep(0.02)  # blocks keep coming while nobody listens
            stop.set()
            await producer
        return got

    got = run(scenario())
    assert got == list(range(11, 11 + 75))


def test_subscription_without_cursor_gets_new_blocks_and_unsubscribe_stops_it() -> None:
    async def scenario() -> None:
        rpc, chain, rx = setup(n=5)
        async with serving(rpc, [(rx, "events")]) as addr:
            ws = await WsClient.connect(addr)
            sid = (await ws.call("chain_subscribeBlocks"))["result"]
            await asyncio.sleep(0.05)
            chain.add()
            msg = await ws.recv()
            assert msg["params"]["result"]["height"] == 6
            assert (await ws.call("chain_unsubscribe", [sid]))["result"] is True
            assert (await ws.call("chain_unsubscribe", [sid]))["result"] is False
            chain.add()
            assert (await ws.call("test_add", [1]))["result"] == 1
            assert ws._ready == []  # no notification after unsubscribing
            r = await ws.call("chain_subscribeBlocks", {"cursor": "nope"})
            assert r["error"]["code"] == -32602 and r["error"]["data"]["code"] == "bad_cursor"
            await ws.close()
            r = await rpc_call(addr, "chain_subscribeBlocks", {"cursor": 1})
            assert r["error"]["code"] == -32001
            assert r["error"]["data"]["code"] == "needs_websocket"

    run(scenario())


def test_oversize_and_binary_messages_close_the_socket() -> None:
    async def scenario() -> None:
        rpc, _, rx = setup(max_ws_message=1000)
        async with serving(rpc, [(rx, "events")]) as addr:
            ws = await WsClient.connect(addr)
            await ws.send_text(
                '{"jsonrpc":"2.0","method":"test_add","params":["' + "a" * 2000 + '"]}'
            )
            closed = await ws.wait_closed()
            assert closed.code == 1009
            from wsproto.events import BytesMessage

            ws = await WsClient.connect(addr)
            ws.writer.write(ws.ws.send(BytesMessage(data=b"[]")))
            closed = await ws.wait_closed()
            assert closed.code == 1003
            assert (await rpc_call(addr, "test_add", [1]))["result"] == 1

    run(scenario())


def test_bad_handshake_gets_400() -> None:
    async def scenario() -> None:
        rpc, _, rx = setup()
        async with serving(rpc, [(rx, "events")]) as addr:
            req = (
                b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            )
            out = await raw_exchange(addr, req)
            assert out.startswith(b"HTTP/1.1 400 ")

    run(scenario())


def test_pings_are_answered_and_a_silent_peer_is_dropped() -> None:
    async def scenario() -> None:
        rpc, _, rx = setup(ws_ping_interval=0.3)
        async with serving(rpc, [(rx, "events")]) as addr:
            ws = await WsClient.connect(addr)
            ws.writer.write(ws.ws.send(Ping(payload=b"hi")))
            data = await asyncio.wait_for(ws.reader.read(100), 5)
            ws.ws.receive_data(data)
            assert any(isinstance(e, Pong) and e.payload == b"hi" for e in ws.ws.events())
            silent = await WsClient.connect(addr)  # never reads, never answers
            for _ in range(20):  # an active client lives through several ping rounds
                assert (await ws.call("test_add", [1]))["result"] == 1
                await asyncio.sleep(0.06)
            for _ in range(100):
                if len(rpc.server.links) == 1:
                    break
                await asyncio.sleep(0.05)
            assert len(rpc.server.links) == 1
            assert (await ws.call("test_add", [2]))["result"] == 2  # the one left is the active one
            await silent.close()
            await ws.close()

    run(scenario())


def test_a_slow_subscriber_is_told_and_closed_without_slowing_others() -> None:
    async def scenario() -> None:
        rpc, chain, rx = setup(n=0, pad=2000, ws_queue=8, write_buffer=16 << 10)
        async with serving(rpc, [(rx, "events")]) as addr:
            slow = await WsClient.connect(addr)
            sid = (await slow.call("chain_subscribeBlocks", {"cursor": 0}))["result"]
            # The slow client now reads nothing while blocks pour out, until the kernel's
            # socket buffers (sized by load, not by us) and its queue are full.
            deadline = time.monotonic() + 30
            for i in range(50_000):
                chain.add()
                if i % 16 == 0:
                    await asyncio.sleep(0.001 if i % 256 == 0 else 0)
                if rpc.metrics.rpc_lagged._value.get() >= 1 or time.monotonic() > deadline:
                    break
            assert rpc.metrics.rpc_lagged._value.get() == 1
            assert (await rpc_call(addr, "test_add", [1]))["result"] == 1  # others are served
            closed = await slow.wait_closed()
            assert closed.code == 1008
            last = slow._ready[-1]
            assert last["method"] == "subscription" and last["params"]["subscription"] == sid
            assert last["params"]["error"]["data"]["code"] == "subscriber_lagged"
            heights = [m["params"]["result"]["height"] for m in slow._ready[:-1]]
            assert heights == list(range(1, len(heights) + 1))  # what it got had no gap
            c = await HttpClient.connect(addr)
            assert (await c.request("GET", "/metrics")).body.count(
                b"agora_rpc_lagged_total 1.0"
            ) == 1
            await c.close()

    run(scenario())


def test_stopping_the_server_says_going_away() -> None:
    async def scenario() -> int:
        rpc, _, rx = setup()
        task = asyncio.ensure_future(rpc.run([(rx, "events")]))
        addr = await rpc.wait_started()
        ws = await WsClient.connect(addr)
        assert (await ws.call("test_add", [1]))["result"] == 1
        rpc.stop()
        closed = await ws.wait_closed()
        await asyncio.wait_for(task, 10)
        return closed.code

    assert run(scenario()) == 1001
