"""dev_faucet: a devnet node signs the faucet's transfer for an address (the browser cannot
hold the faucet key), through a stand-in chain actor whose verdicts come from a real mempool;
one grant per address per interval; absent from a genesis that does not fund the faucet."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rpc"))
from rpc_chain_util import World, call, chain_actor, error_of
from rpc_helpers import run, serving

from agora.blockchain.core_module import Transfer
from agora.blockchain.genesis import FAUCET_LABEL, dev_signing_key
from agora.blockchain.messages import SubmitTx
from agora.blockchain.tx import Tx, tx_hash
from agora.rpc.dev_faucet import AMOUNT, faucet_enabled, register_dev_faucet
from agora.rpc.messages import Answer, Publish
from agora.spsc import channel

FAUCET = bytes(dev_signing_key(FAUCET_LABEL).verify_key)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "chain.sqlite")
    yield w
    w.close()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def pending_faucet_txs(world: World) -> list[Tx]:
    pool = world.chain.mempool
    txs = [e.tx for e in pool.by_hash.values() if e.tx.envelope.sender == FAUCET]
    return sorted(txs, key=lambda t: t.envelope.nonce)


def test_faucet_funds_once_per_interval(world: World) -> None:
    assert faucet_enabled(world.genesis)
    clock = Clock()
    a, b = world.key(4).hex(), bytes(range(32)).hex()

    async def go() -> list[dict[str, Any]]:
        to_chain, chain_in = channel(64, SubmitTx, "rpc->chain")
        rpc_tx, rpc_rx = channel(64, Publish | Answer, "chain->rpc")
        rpc = world.rpc(outbox=to_chain, **world.hooks())
        register_dev_faucet(
            rpc.registry, world.reader, world.genesis, chain_inbox=to_chain,
            pending_nonce=world.hooks()["pending_nonce"], interval_s=30.0, clock=clock,
        )  # fmt: skip
        out = []
        async with serving(rpc, [(rpc_rx, "chain")]), asyncio.TaskGroup() as tg:
            tg.create_task(chain_actor(world.chain, chain_in, rpc_tx))
            out.append(await call(rpc, "dev_faucet", {"address": a}))
            out.append(await call(rpc, "dev_faucet", {"address": a.upper()}))  # same address
            out.append(await call(rpc, "dev_faucet", {"address": b}))
            clock.t += 31
            out.append(await call(rpc, "dev_faucet", [a]))  # by position, after the interval
            out.append(await call(rpc, "dev_faucet", {"address": "zz"}))
            # the test chain allows 3 actions an hour: the mempool's refusal comes through
            out.append(await call(rpc, "dev_faucet", {"address": world.key(3).hex()}))
            out.append(await call(rpc, "rpc_discover"))
            to_chain.close()
        return out

    first, again, other, later, bad, quota, doc = run(go())
    assert first["result"]["address"] == a and first["result"]["amount"] == AMOUNT
    assert error_of(again) == (-32003, "too_many_requests")
    assert "retry in 30 s" in again["error"]["message"]
    assert error_of(bad) == (-32602, "invalid_params")
    assert error_of(quota) == (-32010, "over_quota")
    txs = pending_faucet_txs(world)
    # three transfers from the faucet, nonces following each other, each to its address
    assert [t.envelope.nonce for t in txs] == [1, 2, 3]
    assert [r["result"]["hash"] for r in (first, other, later)] == [tx_hash(t).hex() for t in txs]
    dests = [msgspec.msgpack.decode(t.body or b"", type=Transfer).to.hex() for t in txs]
    assert dests == [a, b, a]
    methods = {m["name"] for m in doc["result"]["methods"]}
    assert "dev_faucet" in methods


def test_faucet_only_on_a_genesis_that_funds_it(world: World) -> None:
    g = world.genesis
    without = msgspec.structs.replace(g, balances=[x for x in g.balances if x.address != FAUCET])
    assert faucet_enabled(g) and not faucet_enabled(without)
