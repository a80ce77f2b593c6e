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
    """The load goes out on schedule while the node sits on its first answer, every call
    is answered in order, and refusals are counted by code."""

    seen: list[int] = []

    async def submit(ctx: object, p: Add) -> int:
        seen.append(p.a)
        if p.a == 0:
            await asyncio.sleep(0.5)  # the node is busy (a block commit)
        if p.a % 10 == 9:
            raise RemoteError("not this one", code="refused_here")
        return p.a

    async def scenario() -> tuple[Sent, float]:
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0)))
        rpc.registry.add("test_submit", submit, params=Add, result=int)
        task = asyncio.ensure_future(rpc.run(()))
        try:
            host, port = await rpc.wait_started()
            c = await HttpRpc.open(f"{host}:{port}")
            n = 200
            slot = Slot(0, [0])
            slot.frags = [call_body("test_submit", [i], i) for i in range(n)]
            slot.hashes = [f"h{i}" for i in range(n)]
            out, pending = Sent(), dict[str, tuple[int, float]]()
            start = time.monotonic()
            await drive(c, slot, 1000.0, start, start + 10, pending, 0, out, min_gap_s=0.01)
            c.close()
            return out, out.end - start
        finally:
            rpc.stop()
            await asyncio.wait_for(task, 10)

    out, last_send_s = run(asyncio.wait_for(scenario(), 30))
    assert seen == list(range(200))  # in order
    assert out.sent == 200 and out.accepted + sum(out.refused.values()) == 200
    assert sum(out.refused.values()) == 20 and len(out.refused) == 1
    # 200 txs at 1,000/s go out in ~0.2 s, though the first answer takes 0.5 s
    assert last_send_s < 0.45
    assert max(out.answer_s) >= 0.45
