"""The devnet bench's keep-alive RPC client against a real RPC server on loopback."""

from __future__ import annotations

import asyncio

import msgspec

from agora.bench_devnet.client import HttpRpc
from agora.rpc.app import RpcConfig
from agora.rpc.server import RpcServer
from agora.runtime import run


class Add(msgspec.Struct):
    a: int
    b: int = 0


def test_a_call_after_the_node_closed_the_idle_connection_reconnects() -> None:
    async def scenario() -> list[int]:
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), idle_timeout=0.2))
        rpc.registry.add("test_add", lambda ctx, p: p.a + p.b, params=Add, result=int)
        task = asyncio.ensure_future(rpc.run(()))
        try:
            host, port = await rpc.wait_started()
            c = await HttpRpc.open(f"{host}:{port}")
            got = [await c.call("test_add", [1, 2])]
            old = c.writer
            await asyncio.sleep(0.6)  # the server closes it meanwhile
            got.append(await c.call("test_add", [3, 4]))
            assert c.writer is not old  # a new connection was made
            c.close()
            return got
        finally:
            rpc.stop()
            await asyncio.wait_for(task, 10)

    assert run(asyncio.wait_for(scenario(), 30)) == [3, 7]
