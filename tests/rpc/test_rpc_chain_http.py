"""The chain and net methods over real HTTP on 127.0.0.1, wired as a node wires them: two
real peer_net nodes, a real chain store, a chain actor on the real mempool; /health;
and rpc_discover describing every method with its result schema."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from rpc_chain_util import World, chain_actor, error_of
from rpc_helpers import HttpClient, rpc_call, run, serving

from agora import PROTOCOL_VERSION, __version__
from agora.blockchain.messages import SubmitTx
from agora.blockchain.tx import encode_tx, tx_hash
from agora.peer_net.identity import NodeKey
from agora.peer_net.service import PeerNet
from agora.peer_net.settings import NetSettings
from agora.rpc.messages import Answer, Publish
from agora.rpc.net_methods import node_health, register_net_methods
from agora.rpc.views import verify_tx_proof
from agora.spsc import channel

NETWORK = "agora-rpc-test"
FAST = NetSettings(dial_interval_s=0.1, handshake_timeout_s=3.0)
CHAIN_METHODS = ["chain_status", "chain_getBlock", "chain_getCommit", "tx_submit", "tx_get",
                 "account_get"]  # fmt: skip


async def until(pred: Any, what: str, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not pred():  # noqa: ASYNC110 - the state changes in socket callbacks
            await asyncio.sleep(0.02)
    assert pred(), what


async def get(addr: tuple[str, int], path: str) -> tuple[int, Any]:
    c = await HttpClient.connect(addr)
    try:
        r = await c.request("GET", path)
        return r.status, r.json()
    finally:
        await c.close()


def test_every_method_over_http(tmp_path: Path) -> None:
    world = World(tmp_path / "chain.sqlite")
    tx = world.transfer(3, 0, 5)
    block_time = world.chain.time_ms
    now = [block_time / 1000 + 1]

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        a = PeerNet(NodeKey.generate(), NETWORK, FAST, state_dir=tmp_path / "a")
        to_chain, chain_in = channel(64, SubmitTx, "rpc->chain")
        rpc_tx, rpc_rx = channel(64, Publish | Answer, "chain->rpc")
        rpc = world.rpc(outbox=to_chain, **world.hooks())
        register_net_methods(rpc.registry, a.status, lambda: {
            "name": "alpha", "node_id": a.key.hex, "pid": os.getpid(), "rpc": "127.0.0.1:1",
            "network": NETWORK, "height": 5})  # fmt: skip
        rpc.app.health = node_health(
            world.reader, peers=lambda: len(a.conns), solo=False, clock=lambda: now[0]
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(a.run())
            await a.wait_started()
            boot = replace(FAST, bootstrap=(a.external,))
            b = PeerNet(NodeKey.generate(), NETWORK, boot, state_dir=tmp_path / "b")
            out["health_alone"] = await _health_alone(rpc, world)
            tg.create_task(b.run())
            tg.create_task(chain_actor(world.chain, chain_in, rpc_tx))
            await b.wait_started()
            await until(lambda: b.key.node_id in a.conns, "b connects to a")
            async with serving(rpc, [(rpc_rx, "chain")]) as addr:
                out.update(await _calls(addr, world, tx, now))
                out["a"], out["b"] = a, b
            to_chain.close()
            b.stop()
            a.stop()
        return out

    out = run(go(), 60)
    a, b = out["a"], out["b"]
    world.close()
    assert out["health_alone"] == (False, ["no_peers"])
    st = out["status"]
    assert st["height"] == 5 and st["chain_id"] == NETWORK and st["mempool_size"] == 0
    assert out["submit"] == {"hash": tx_hash(tx).hex()}
    assert error_of(out["again"]) == (-32010, "duplicate_tx")
    assert error_of(out["garbage"]) == (-32602, "undecodable")
    got = out["tx"]
    assert got["height"] == 6 and got["tx"]["sender"] == world.key(3).hex()
    assert verify_tx_proof(got, out["block6"]["header"]["tx_root"])
    assert out["block6"]["txs"] == [got["tx"]]
    assert out["commit5"]["canonical"] and out["commit5"]["height"] == 5
    assert out["account"]["balance"] == 1000 + 10 - 5 and out["account"]["next_nonce"] == 2
    assert error_of(out["missing"]) == (-32004, "not_found")
    assert error_of(out["both"]) == (-32602, "invalid_params")
    (peer,) = out["peers"]
    assert peer["id"] == b.key.hex and peer["inbound"] is True
    assert peer["addr"].startswith("127.0.0.1:") and peer["listen"] == b.external
    assert peer["since_ms"] > 1_600_000_000_000 and isinstance(peer["score"], float)
    info = out["info"]
    assert info["node_id"] == a.key.hex and info["name"] == "alpha"
    assert info["network"] == NETWORK and info["version"] == __version__
    assert info["protocol_version"] == PROTOCOL_VERSION
    assert info["listen"] == {"p2p": a.external, "rpc": "127.0.0.1:1"}
    assert info["peers"] == {"total": 1, "inbound": 1, "outbound": 0} and info["bans"] == 0
    code, doc = out["health"]
    assert code == 200 and doc["ok"] is True and doc["reasons"] == []
    assert doc["peers"] == 1 and doc["height"] == 6 and doc["last_block_age_ms"] >= 0
    code, doc = out["health_stale"]
    assert code == 503 and doc["reasons"] == ["stale_block"]
    assert doc["last_block_age_ms"] > 30_000


async def _health_alone(rpc: Any, world: World) -> tuple[bool, list[str]]:
    doc = rpc.app.health()
    return doc["ok"], doc["reasons"]


async def _calls(addr: tuple[str, int], world: World, tx: Any, now: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["status"] = (await rpc_call(addr, "chain_status"))["result"]
    out["submit"] = (await rpc_call(addr, "tx_submit", {"tx": encode_tx(tx).hex()}))["result"]
    out["again"] = await rpc_call(addr, "tx_submit", [encode_tx(tx).hex()])
    out["garbage"] = await rpc_call(addr, "tx_submit", ["c1c1"])
    world.step()  # block 6, with the tx
    now[0] = world.chain.time_ms / 1000 + 2
    h = tx_hash(tx).hex()
    out["tx"] = (await rpc_call(addr, "tx_get", {"hash": h}))["result"]
    out["block6"] = (await rpc_call(addr, "chain_getBlock", {"height": 6}))["result"]
    out["commit5"] = (await rpc_call(addr, "chain_getCommit", [5]))["result"]
    out["account"] = (await rpc_call(addr, "account_get", [world.key(3).hex()]))["result"]
    out["missing"] = await rpc_call(addr, "chain_getBlock", {"hash": "ee" * 32})
    out["both"] = await rpc_call(addr, "chain_getBlock", [6, "ee" * 32])
    out["peers"] = (await rpc_call(addr, "net_peers"))["result"]
    out["info"] = (await rpc_call(addr, "net_info"))["result"]
    out["health"] = await get(addr, "/health")
    now[0] += 31  # no block for 31 s
    out["health_stale"] = await get(addr, "/health")
    out["discover"] = (await rpc_call(addr, "rpc_discover"))["result"]
    _check_discover(out["discover"])
    return out


def _check_discover(doc: dict[str, Any]) -> None:
    methods = {m["name"]: m for m in doc["methods"]}
    schemas = doc["components"]["schemas"]
    for name in [*CHAIN_METHODS, "net_peers", "net_info"]:
        m = methods[name]
        schema = m["result"]["schema"]
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        assert ref, (name, schema)
        target = schemas[ref.rsplit("/", 1)[1]]
        assert target["type"] == "object" and target["required"], name
        if name != "chain_status" and not name.startswith("net_"):
            assert m["errors"], name
    assert set(schemas["BlockView"]["properties"]) == {
        "id", "header", "txs", "last_commit", "evidence"}  # fmt: skip
    assert {"index", "size", "path", "root"} <= set(schemas["TxProof"]["properties"])
    assert [p["name"] for p in methods["chain_getBlock"]["params"]] == ["height", "hash"]
    assert methods["tx_get"]["params"][0]["schema"]["pattern"] == "^[0-9a-fA-F]{64}$"
    assert "-32010" in doc["x-errorCodes"]
