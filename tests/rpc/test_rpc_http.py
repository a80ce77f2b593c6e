"""HTTP over real TCP on 127.0.0.1: JSON-RPC, limits, timeouts, health, metrics, CORS."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from rpc_helpers import HttpClient, raw_exchange, read_responses, rpc_call, run, serving

from agora.rpc.app import RpcConfig
from agora.rpc.methods import Context
from agora.rpc.server import RpcServer

JSON = [("content-type", "application/json")]


class Add(msgspec.Struct):
    a: int
    b: int = 0


def server(**cfg: Any) -> RpcServer:
    health = cfg.pop("health", None)
    rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), **cfg), health=health)
    rpc.registry.add("test_add", lambda ctx, p: p.a + p.b, params=Add, result=int)

    async def later(ctx: Context, p: Add) -> int:
        await asyncio.sleep(0.01)
        return p.a * 10

    rpc.registry.add("test_later", later, params=Add, result=int)
    rpc.registry.add("test_big", lambda ctx: "x" * (4 << 20), result=str)
    return rpc


def body(method: str, params: Any, id: Any = 1) -> bytes:
    doc = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        doc["params"] = params
    return msgspec.json.encode(doc)


def test_post_on_both_paths_with_cors() -> None:
    async def scenario() -> None:
        async with serving(server()) as addr:
            c = await HttpClient.connect(addr)
            for path in ("/", "/rpc"):
                r = await c.request("POST", path, body("test_add", [2, 3]), JSON)
                assert r.status == 200
                assert r.json() == {"jsonrpc": "2.0", "id": 1, "result": 5}
                assert r.headers["content-type"] == "application/json"
                assert r.headers["access-control-allow-origin"] == "*"
            r = await c.request("POST", "/", b"{nope", JSON)
            assert r.status == 200 and r.json()["error"]["code"] == -32700
            r = await c.request("POST", "/?x=1", body("test_later", {"a": 4}), JSON)
            assert r.json()["result"] == 40
            await c.close()

    run(scenario())


def test_batches_and_notifications() -> None:
    async def scenario() -> None:
        async with serving(server()) as addr:
            c = await HttpClient.connect(addr)
            batch = b"[" + body("test_add", [1, 1], 1) + b"," + body("test_later", [1], 2) + b"]"
            r = await c.request("POST", "/", batch, JSON)
            assert [x["result"] for x in r.json()] == [2, 10]
            note = b'{"jsonrpc":"2.0","method":"test_add","params":[1]}'
            r = await c.request("POST", "/", note, JSON)
            assert r.status == 204 and r.body == b""
            r = await c.request("POST", "/", b"[" + note + b"," + note + b"]", JSON)
            assert r.status == 204
            await c.close()

    run(scenario())


def test_preflight_and_method_rules() -> None:
    async def scenario() -> None:
        async with serving(server()) as addr:
            c = await HttpClient.connect(addr)
            asked = [("origin", "http://x"), ("access-control-request-headers", "content-type")]
            r = await c.request("OPTIONS", "/", None, asked)
            assert r.status == 204
            assert r.headers["access-control-allow-origin"] == "*"
            assert "POST" in r.headers["access-control-allow-methods"]
            assert r.headers["access-control-allow-headers"] == "content-type"
            r = await c.request("PUT", "/", b"x")
            assert r.status == 405 and "POST" in r.headers["allow"]
            r = await c.request("POST", "/elsewhere", body("test_add", [1]))
            assert r.status == 404
            await c.close()

    run(scenario())


def test_keep_alive_and_pipelining_answer_in_order() -> None:
    async def scenario() -> None:
        async with serving(server()) as addr:
            r, w = await asyncio.open_connection(*addr)
            reqs = b""
            for i, m in enumerate(["test_later", "test_add", "test_later", "test_add"]):
                b = body(m, [i], i)
                reqs += b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)
            w.write(reqs)  # all four at once
            got = [x.json() for x in await read_responses(r, 4)]
            assert [g["id"] for g in got] == [0, 1, 2, 3]
            assert [g["result"] for g in got] == [0, 1, 20, 3]
            w.close()

    run(scenario())


def test_body_too_large_gets_413_before_it_is_sent() -> None:
    async def scenario() -> None:
        async with serving(server(max_body=1000)) as addr:
            head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 50000000\r\n\r\n"
            out = await raw_exchange(addr, head)  # the body never comes
            assert out.startswith(b"HTTP/1.1 413 ")
            chunked = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            chunked += b"400\r\n" + b"x" * 1024 + b"\r\n" + b"400\r\n" + b"x" * 1024 + b"\r\n"
            out = await raw_exchange(addr, chunked)
            assert out.startswith(b"HTTP/1.1 413 ")
            assert (await rpc_call(addr, "test_add", [1]))["result"] == 1

    run(scenario())


def test_header_flood_gets_431() -> None:
    async def scenario() -> None:
        async with serving(server(max_header=2048)) as addr:
            flood = b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-A: " + b"a" * 100 + b"\r\n"
            flood += b"".join(b"X-%d: v\r\n" % i for i in range(1000))
            out = await raw_exchange(addr, flood)
            assert out.startswith(b"HTTP/1.1 431 ")
            assert (await rpc_call(addr, "test_add", [2]))["result"] == 2

    run(scenario())


def test_malformed_http_gets_400_and_others_are_still_served() -> None:
    async def scenario() -> None:
        async with serving(server()) as addr:
            bad = [
                b"HELLO\r\n\r\n",
                b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                b"\x00\x01\x02\r\n\r\n",
            ]
            outs = await asyncio.gather(*(raw_exchange(addr, b) for b in bad))
            for data, out in zip(bad, outs, strict=True):
                assert out.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 505 ")), (data, out[:40])
            assert (await rpc_call(addr, "test_add", [3]))["result"] == 3

    run(scenario())


def test_a_stalled_request_is_closed_after_the_timeout() -> None:
    async def scenario() -> None:
        async with serving(server(request_timeout=0.3)) as addr:
            out = await raw_exchange(addr, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Le", wait=5)
            assert out.startswith(b"HTTP/1.1 408 ")
            # Trickling bytes does not extend the deadline (slowloris).
            r, w = await asyncio.open_connection(*addr)
            w.write(b"POST / HTTP/1.1\r\nHost: t\r\n")
            closed_after = None
            for i in range(50):
                await asyncio.sleep(0.05)
                try:
                    w.write(b"X-%d: y\r\n" % i)
                    await w.drain()
                except ConnectionError:
                    closed_after = i
                    break
                if r.at_eof() or w.is_closing():
                    closed_after = i
                    break
                with contextlib.suppress(TimeoutError):
                    data = await asyncio.wait_for(r.read(1000), 0.001)
                    if data.startswith(b"HTTP/1.1 408") or not data:
                        closed_after = i
                        break
            w.close()
            assert closed_after is not None  # within 50 trickles: far past the 0.3 s limit
            assert (await rpc_call(addr, "test_add", [4]))["result"] == 4

    run(scenario())


def test_an_idle_connection_is_closed() -> None:
    async def scenario() -> None:
        async with serving(server(idle_timeout=0.2)) as addr:
            c = await HttpClient.connect(addr)
            assert (await c.request("GET", "/health")).status == 200
            data = await asyncio.wait_for(c.reader.read(100), 5)
            assert data == b""  # closed by the server, without a word
            await c.close()

    run(scenario())


def test_a_client_that_does_not_read_is_dropped() -> None:
    async def scenario() -> None:
        rpc = server(write_buffer=64 << 10, send_timeout=0.3)
        async with serving(rpc) as addr:
            _r, w = await asyncio.open_connection(*addr)
            one = body("test_big", None)
            req = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(one), one)
            w.write(req * 8)  # 32 MiB of answers that nobody reads
            await w.drain()
            for _ in range(100):
                await asyncio.sleep(0.05)
                if not rpc.server.links:
                    break
            assert not rpc.server.links
            w.close()
            assert (await rpc_call(addr, "test_add", [5]))["result"] == 5

    run(scenario())


def test_health_and_metrics() -> None:
    state = {"ok": True, "height": 3}

    async def scenario() -> None:
        rpc = server(health=lambda: dict(state))
        rpc.metrics.height.set(42)
        async with serving(rpc) as addr:
            c = await HttpClient.connect(addr)
            r = await c.request("GET", "/health")
            assert r.status == 200 and r.json() == {"ok": True, "height": 3}
            state["ok"] = False
            r = await c.request("GET", "/health")
            assert r.status == 503 and r.json()["ok"] is False
            await c.request("POST", "/", body("test_add", [1]), JSON)
            await c.request("POST", "/", body("test_none", [1]), JSON)
            r = await c.request("GET", "/metrics")
            assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
            text = r.body.decode()
            assert "agora_height 42.0" in text
            for name in ("agora_peers", "agora_mempool_size", "agora_consensus_round",
                         "agora_block_interval_seconds", "agora_tx_per_second"):  # fmt: skip
                assert f"\n{name} " in text, name
            assert 'agora_rpc_calls_total{method="test_add",outcome="ok"} 1.0' in text
            assert 'agora_rpc_calls_total{method="unknown",outcome="-32601"} 1.0' in text
            assert "agora_rpc_connections 1.0" in text
            await c.close()

    run(scenario())
