"""The devnet bench's keep-alive RPC client against a real RPC server on loopback."""

from __future__ import annotations

import asyncio
import time

import msgspec

from agora.bench_devnet.client import HttpRpc, call_body
from agora.bench_devnet.load import Sent, Slot, drive
from agora.errors import RemoteError
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


def test_drive_pipelines_batches_without_waiting_for_answers() -> None:
    """The whole load goes out while the node sits on its first answer (a sender that
    waited for answers would send nothing more), every call is answered in order, and
    refusals are counted by code."""
    n = 200
    out = Sent()
    seen: list[int] = []
    sent_before_first_answer: list[int] = []

    async def submit(ctx: object, p: Add) -> int:
        seen.append(p.a)
        if p.a == 0:  # the node is busy (a block commit) until the client sent it all
            for _ in range(500):
                if out.sent >= n:
                    break
                await asyncio.sleep(0.01)
            sent_before_first_answer.append(out.sent)
        if p.a % 10 == 9:
            raise RemoteError("not this one", code="refused_here")
        return p.a

    async def scenario() -> None:
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0)))
        rpc.registry.add("test_submit", submit, params=Add, result=int)
        task = asyncio.ensure_future(rpc.run(()))
        try:
            host, port = await rpc.wait_started()
            c = await HttpRpc.open(f"{host}:{port}")
            slot = Slot(0, [0])
            slot.frags = [call_body("test_submit", [i], i) for i in range(n)]
            slot.hashes = [f"h{i}" for i in range(n)]
            start = time.monotonic()
            await drive(c, slot, 1000.0, start, start + 20, {}, 0, out, min_gap_s=0.01)
            c.close()
        finally:
            rpc.stop()
            await asyncio.wait_for(task, 10)

    run(asyncio.wait_for(scenario(), 30))
    assert sent_before_first_answer == [n]
    assert seen == list(range(n))  # in order
    assert out.sent == n and out.accepted + sum(out.refused.values()) == n
    assert out.refused == {"refused_here": 20}
