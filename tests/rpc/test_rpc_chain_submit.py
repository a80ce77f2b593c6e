"""tx_submit through the dispatcher, answered by a stand-in blockchain actor whose verdicts
come from the real mempool of a real chain: accepted, every refusal code, decode errors,
and what happens when the chain actor is slow, busy or gone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rpc_chain_util import World, call, chain_actor, error_of
from rpc_helpers import run, serving

from agora.blockchain.messages import SubmitTx
from agora.blockchain.tx import Tx, encode_tx, make_tx, sign_bytes, tx_hash
from agora.codec import encode
from agora.errors import RemoteError
from agora.rpc.messages import Answer, Publish
from agora.rpc.server import RpcServer
from agora.spsc import channel


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "chain.sqlite")
    yield w
    w.close()


def with_chain(world: World, scenario: Callable[[RpcServer], Awaitable[None]], **kw: Any) -> None:
    """Serve the chain methods with the actor wiring a node has: the RPC's outbox goes to the
    chain actor, whose Answers come back on the RPC inbox."""

    async def go() -> None:
        to_chain, chain_in = channel(64, SubmitTx, "rpc->chain")
        rpc_tx, rpc_rx = channel(64, Publish | Answer, "chain->rpc")
        rpc = world.rpc(outbox=to_chain, **world.hooks(), **kw)
        async with serving(rpc, [(rpc_rx, "chain")]), asyncio.TaskGroup() as tg:
            tg.create_task(chain_actor(world.chain, chain_in, rpc_tx))
            try:
                await scenario(rpc)
            finally:
                to_chain.close()

    run(go())


def hexed(tx: Tx) -> dict[str, str]:
    return {"tx": encode_tx(tx).hex()}


def test_accepted_then_committed(world: World) -> None:
    tx = world.transfer(3, 0, 7)

    async def scenario(rpc: RpcServer) -> None:
        res = await call(rpc, "tx_submit", hexed(tx))
        assert res["result"] == {"hash": tx_hash(tx).hex()}
        assert tx_hash(tx) in world.chain.mempool
        st = (await call(rpc, "chain_status"))["result"]
        assert st["mempool_size"] == 1
        pending = await call(rpc, "tx_get", [tx_hash(tx).hex()])
        assert error_of(pending) == (-32004, "not_found") and pending["error"]["data"]["pending"]
        acct = (await call(rpc, "account_get", [world.key(3).hex()]))["result"]
        assert (acct["nonce"], acct["pending"], acct["next_nonce"]) == (0, 1, 2)
        world.step()  # the node commits block 6
        got = (await call(rpc, "tx_get", {"hash": tx_hash(tx).hex()}))["result"]
        assert (got["height"], got["index"], got["tx"]["code"]) == (6, 0, "ok")
        acct = (await call(rpc, "account_get", [world.key(3).hex()]))["result"]
        assert (acct["balance"], acct["nonce"], acct["next_nonce"]) == (1000 + 10 - 7, 1, 2)
        assert (await call(rpc, "chain_status"))["result"]["mempool_size"] == 0

    with_chain(world, scenario)


def _resigned(world: World, tx: Tx, signer: int) -> Tx:
    sig = world.users[signer].sign(sign_bytes(encode(tx.envelope))).signature
    return Tx(tx.envelope, sig, tx.body)


def test_every_mempool_refusal_has_its_code(world: World) -> None:
    ok3 = [world.transfer(3, 1, 1) for _ in range(3)]  # u3's whole quota
    first = world.transfer(2, 1, 1)  # u2 has used 2 of 3
    cases: list[tuple[str, Tx]] = [
        ("duplicate_tx", ok3[0]),
        ("over_quota", world.transfer(3, 1, 1)),
        ("bad_nonce", world.transfer(2, 0, 2, nonce=first.envelope.nonce)),
        ("nonce_too_old", world.transfer(0, 1, 1, nonce=1)),
        ("nonce_gap", world.transfer(1, 0, 1, nonce=9)),
        ("insufficient_balance", world.transfer(4, 0, 1, fee=1)),
        ("insufficient_balance", world.transfer(1, 0, 10**6)),
        ("bad_signature", _resigned(world, world.transfer(1, 0, 1, nonce=2), 0)),
        ("wrong_chain", world.transfer(1, 0, 1, nonce=2, chain_id="agora-elsewhere")),
        ("bad_body", world.transfer(1, 1, 1, nonce=2)),
        ("unknown_kind", make_tx(world.users[1], "agora-rpc-test", 2, "nope", b"\x90")),
        ("tx_too_large", make_tx(world.users[1], "agora-rpc-test", 2, "transfer", b"x" * 100)),
        ("body_hash_mismatch", Tx(ok3[1].envelope, ok3[1].signature, b"\x92\x01\x02")),
    ]

    async def scenario(rpc: RpcServer) -> None:
        for tx in [*ok3, first]:
            assert "result" in await call(rpc, "tx_submit", hexed(tx))
        for code, tx in cases:
            res = await call(rpc, "tx_submit", hexed(tx))
            assert error_of(res) == (-32010, code), (code, res)
            assert res["error"]["message"]  # the mempool's own words
        assert len(world.chain.mempool) == 4

    with_chain(world, scenario)


def _non_canonical(tx: Tx) -> bytes:
    data = encode_tx(tx)
    short = b"\xc4\x40" + tx.signature  # bin8, the shortest form of 64 bytes
    assert data.count(short) == 1
    return data.replace(short, b"\xc5\x00\x40" + tx.signature)  # bin16: same value


def test_malformed_txs_are_invalid_params(world: World) -> None:
    tx = world.transfer(3, 0, 1)
    cases: list[tuple[Any, str]] = [
        ({"tx": "c1"}, "undecodable"),
        ({"tx": encode_tx(tx).hex() + "00"}, "undecodable"),  # trailing bytes
        ({"tx": encode([1, 2, 3]).hex()}, "invalid_value"),
        ({"tx": _non_canonical(tx).hex()}, "non_canonical"),
        ({"tx": "00" * (64 * 1024 + 1)}, "oversize"),
        ({"tx": "abc"}, "invalid_params"),
        ({"tx": "zz"}, "invalid_params"),
        ({"tx": ""}, "invalid_params"),
        ({"tx": "ab cd"}, "invalid_params"),
        ({"tx": "ab  cd"}, "invalid_params"),
        ({"tx": "\u00e91"}, "invalid_params"),
        ({"tx": "ab" * (64 * 1024 + 1)}, "oversize"),  # refused before it is decoded
        ({"tx": 5}, "invalid_params"),
        ({}, "invalid_params"),
        ([encode_tx(tx).hex(), 1], "invalid_params"),
    ]

    async def scenario(rpc: RpcServer) -> None:
        for params, code in cases:
            res = await call(rpc, "tx_submit", params)
            assert error_of(res) == (-32602, code), params if len(str(params)) < 99 else code
        ok = await call(rpc, "tx_submit", [encode_tx(tx).hex().upper()])  # by position
        assert ok["result"]["hash"] == tx_hash(tx).hex()
        assert len(world.chain.mempool) == 1  # nothing malformed reached the mempool

    with_chain(world, scenario)


def test_the_chain_inbox_may_be_its_own_channel(world: World) -> None:
    """`chain_inbox=`: SubmitTx goes there, not to the RPC server's outbox."""
    tx = world.transfer(3, 0, 1)

    async def go() -> None:
        to_chain, chain_in = channel(8, SubmitTx, "rpc->chain")
        rpc_tx, rpc_rx = channel(8, Publish | Answer, "chain->rpc")
        rpc = world.rpc(chain_inbox=to_chain)  # and no outbox at all
        async with serving(rpc, [(rpc_rx, "chain")]), asyncio.TaskGroup() as tg:
            tg.create_task(chain_actor(world.chain, chain_in, rpc_tx))
            res = await call(rpc, "tx_submit", hexed(tx))
            again = await call(rpc, "tx_submit", hexed(tx))
            to_chain.close()
        assert res["result"]["hash"] == tx_hash(tx).hex()
        assert error_of(again) == (-32010, "duplicate_tx")

    run(go())


def test_slow_busy_or_missing_chain_actor(world: World) -> None:
    tx = encode_tx(world.transfer(3, 0, 1)).hex()

    async def go() -> list[dict[str, Any]]:
        out = []
        nobody_reads, _kept = channel(8, SubmitTx)
        rpc = world.rpc(outbox=nobody_reads, submit_wait_s=0.2)
        out.append(await call(rpc, "tx_submit", [tx]))
        assert len(rpc.services.asks) == 0  # the ticket is given up
        full, _rx = channel(1, SubmitTx)
        full.send_nowait(SubmitTx(ticket=0, tx=b""))
        out.append(await call(world.rpc(outbox=full), "tx_submit", [tx]))
        gone, rx = channel(1, SubmitTx)
        rx.close()
        out.append(await call(world.rpc(outbox=gone), "tx_submit", [tx]))
        out.append(await call(world.rpc(), "tx_submit", [tx]))  # a node without a chain actor
        wrong, wrong_rx = channel(8, SubmitTx)
        rpc = world.rpc(outbox=wrong)
        task = asyncio.ensure_future(call(rpc, "tx_submit", [tx]))
        msg = await wrong_rx.receive()
        rpc.services.asks.answer(Answer(msg.ticket, result="00" * 32))  # not this tx's hash
        out.append(await task)
        return out

    slow, busy, closed, absent, wrong = run(go())
    assert error_of(slow) == (-32002, "timeout")
    assert error_of(busy) == (-32003, "overloaded")
    assert error_of(closed) == (-32005, "unavailable")
    assert error_of(absent) == (-32005, "unavailable")
    assert error_of(wrong) == (-32603, "bad_answer")  # our bug, not the client's
    assert wrong["error"]["message"] == "Internal error"


def test_decoder_error_from_the_chain_actor_keeps_its_code(world: World) -> None:
    """A tx the RPC decodes but the chain refuses as a RemoteError that is not a TxError."""
    tx = world.transfer(3, 0, 1)

    async def go() -> dict[str, Any]:
        out, rx = channel(8, SubmitTx)
        rpc = world.rpc(outbox=out)
        task = asyncio.ensure_future(call(rpc, "tx_submit", hexed(tx)))
        msg = await rx.receive()
        rpc.services.asks.answer(Answer(msg.ticket, error=RemoteError("no", code="invalid_value")))
        return await task

    assert error_of(run(go())) == (-32602, "invalid_value")
