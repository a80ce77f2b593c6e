"""Per-IP limits of the RPC port: connections and calls per second."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rpc_helpers import HttpClient, WsClient, raw_exchange, run, serving

from agora.config import Config, load_config, save_config
from agora.errors import LocalError
from agora.node_rpc import rpc_config
from agora.rpc.app import RpcConfig
from agora.rpc.clients import ClientLimits
from agora.rpc.codes import OVERLOADED
from agora.rpc.server import RpcServer

IP, OTHER = "203.0.113.1", "203.0.113.2"  # documentation addresses: never dialled


def test_connections_are_counted_per_ip_and_loopback_is_exempt() -> None:
    c = ClientLimits(max_connections=2, rate=1.0, burst=1)
    assert c.connect(IP) and c.connect(IP) and not c.connect(IP)
    assert c.connect(OTHER) and c.connections(IP) == 2
    c.disconnect(IP)
    assert c.connect(IP) and not c.connect(IP)
    assert all(c.connect("127.0.0.1") for _ in range(10)) and c.connections("127.0.0.1") == 0
    assert all(c.connect("::1") for _ in range(10))
    assert not ClientLimits(max_connections=1, rate=0, burst=1, limit_loopback=True).exempt("::1")


def test_the_call_bucket_refills_at_its_rate_and_never_passes_more_than_a_burst() -> None:
    c = ClientLimits(max_connections=1, rate=4.0, burst=5)  # binary-exact times below
    assert c.take(IP, 5, 100.0) == 0.0
    assert c.take(IP, 1, 100.0) == 0.25  # refused: nothing spent
    assert c.take(IP, 1, 100.125) == 0.125
    assert c.take(IP, 1, 100.25) == 0.0
    assert c.take(IP, 6, 200.0) == float("inf")  # over a whole burst: never
    assert c.take(OTHER, 5, 100.25) == 0.0  # its own bucket
    assert c.take("127.0.0.1", 10_000, 100.25) == 0.0
    assert ClientLimits(max_connections=1, rate=0, burst=1).take(IP, 10**6, 0.0) == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(1, 8), st.floats(0, 2)), max_size=60))
def test_no_address_gets_more_than_its_burst_plus_rate_times_time(
    ops: list[tuple[int, int, float]],
) -> None:
    c = ClientLimits(max_connections=1, rate=4.0, burst=6, max_tracked=64)
    now, granted = 0.0, [0] * 8
    for who, n, dt in ops:
        now += dt
        if c.take(f"198.51.100.{who}", n, now) == 0.0:
            granted[who] += n
    assert all(g <= 6 + 4.0 * now + 1e-9 for g in granted)


def test_forgotten_addresses_are_the_least_recent_and_start_full() -> None:
    c = ClientLimits(max_connections=1, rate=1.0, burst=2, max_tracked=2)
    for ip in ("198.51.100.1", "198.51.100.2"):
        assert c.take(ip, 2, 0.0) == 0.0
    assert c.take("198.51.100.3", 1, 0.0) == 0.0  # .1 is forgotten
    assert c.take("198.51.100.2", 1, 0.0) > 0  # still remembered, still empty
    assert c.take("198.51.100.1", 2, 0.0) == 0.0


def test_config_refuses_limits_that_make_no_sense() -> None:
    bads: list[dict[str, Any]] = [
        {"max_connections_per_ip": 0},
        {"call_burst_per_ip": 0},
        {"calls_per_s_per_ip": -1},
    ]
    for bad in bads:
        with pytest.raises(LocalError) as e:
            RpcConfig(**bad)
        assert e.value.code == "bad_config"


class Add(msgspec.Struct):
    a: int
    b: int = 0


def _server(**cfg: Any) -> RpcServer:
    rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), limit_loopback=True, **cfg))
    rpc.registry.add("test_add", lambda ctx, p: p.a + p.b, params=Add, result=int)
    return rpc


def _batch(n: int) -> bytes:
    return json.dumps(
        [{"jsonrpc": "2.0", "id": i, "method": "test_add", "params": [i]} for i in range(n)]
    ).encode()


def test_a_client_over_its_rate_gets_a_stable_error_and_others_are_not_slowed() -> None:
    async def scenario() -> None:
        rpc = _server(calls_per_s_per_ip=0.5, call_burst_per_ip=4)
        async with serving(rpc) as addr:
            c = await HttpClient.connect(addr)
            ok = (await c.request("POST", "/", _batch(3))).json()
            assert [a["result"] for a in ok] == [0, 1, 2]
            refused = (await c.request("POST", "/", _batch(2))).json()  # 1 token left: none run
            assert [a["error"]["code"] for a in refused] == [OVERLOADED, OVERLOADED]
            data = refused[0]["error"]["data"]
            assert data["code"] == "rate_limited" and data["retry_after_ms"] > 0
            too_big = (await c.request("POST", "/", _batch(5))).json()
            assert too_big[0]["error"]["data"]["retry_after_ms"] == -1  # over a burst: never
            health = await c.request("GET", "/health")  # the last token
            assert health.status == 200
            limited = await c.request("GET", "/health")
            assert limited.status == 429 and int(limited.headers["retry-after"]) >= 1
            ws = await WsClient.connect(addr)  # the same address, over a WebSocket
            got = await ws.call("test_add", [1])
            assert got["error"]["data"]["code"] == "rate_limited"
            await ws.close()
            await c.close()
            # Another address is not limited: the bucket is per IP (here, our own is refilled).
            rpc.clients._buckets.clear()
            c2 = await HttpClient.connect(addr)
            assert (await c2.request("POST", "/", _batch(1))).json()[0]["result"] == 0
            await c2.close()

    run(scenario())


def test_connections_over_the_per_ip_limit_get_429_and_a_closed_socket() -> None:
    async def scenario() -> None:
        rpc = _server(max_connections_per_ip=2)
        async with serving(rpc) as addr:
            a, b = await HttpClient.connect(addr), await HttpClient.connect(addr)
            assert (await a.request("GET", "/health")).status == 200
            assert (await b.request("GET", "/health")).status == 200
            answer = await raw_exchange(addr, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 429 ") and b"too many connections" in answer
            await a.close()
            for _ in range(100):  # the server sees the close soon; bounded
                if rpc.clients.connections("127.0.0.1") < 2:
                    break
                await asyncio.sleep(0.02)
            c = await HttpClient.connect(addr)
            assert (await c.request("GET", "/health")).status == 200
            await b.close()
            await c.close()

    run(scenario())


def test_the_node_config_section_sets_the_limits(tmp_path: Path) -> None:
    config = Config()
    config.rpc.listen = "0.0.0.0:9000"
    config.rpc.calls_per_s_per_ip = 5.5
    config.rpc.max_connections_per_ip = 3
    save_config(config, tmp_path / "config.toml")
    section = load_config(tmp_path / "config.toml").rpc
    rc = rpc_config(section)
    assert rc.listen == ("0.0.0.0", 9000)
    assert (rc.calls_per_s_per_ip, rc.max_connections_per_ip) == (5.5, 3)
    assert (rc.call_burst_per_ip, rc.limit_loopback) == (300, False)
