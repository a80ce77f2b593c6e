"""node_health's verdicts, and the net methods on status shapes that do not fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rpc_chain_util import World, call, error_of
from rpc_helpers import run

from agora.blockchain.chain import Chain
from agora.blockchain.devchain import dev_genesis, dev_keys
from agora.blockchain.reader import Reader
from agora.rpc.methods import Registry
from agora.rpc.net_methods import node_health, register_net_methods
from agora.rpc.server import RpcServer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "chain.sqlite")
    yield w
    w.close()


def test_health_verdicts(world: World) -> None:
    t = world.chain.time_ms / 1000

    def health(peers: int, solo: bool, at: float, syncing: bool = False) -> dict[str, Any]:
        return node_health(
            world.reader, peers=lambda: peers, solo=solo, catching_up=lambda: syncing,
            clock=lambda: at, max_block_age_s=10,
        )()  # fmt: skip

    ok = health(3, False, t + 1)
    assert ok == {"ok": True, "reasons": [], "peers": 3, "catching_up": False, "height": 5,
                  "last_block_age_ms": 1000}  # fmt: skip
    assert health(0, True, t + 9.9)["ok"] is True  # the only validator needs no peers
    assert health(0, False, t + 1)["reasons"] == ["no_peers"]
    assert health(2, False, t + 10.5)["reasons"] == ["stale_block"]
    assert health(2, False, t + 1, syncing=True)["reasons"] == ["catching_up"]
    many = health(0, False, t + 60, syncing=True)
    assert many["ok"] is False and many["reasons"] == ["no_peers", "catching_up", "stale_block"]


def test_health_before_the_first_block_counts_from_genesis(tmp_path: Path) -> None:
    g = dev_genesis(dev_keys("v", 1), genesis_time=1_800_000_000_000)
    Chain.open(tmp_path / "c.sqlite", g, synchronous="NORMAL").close()
    r = Reader.open(tmp_path / "c.sqlite")
    try:
        early = node_health(r, peers=lambda: 0, solo=True, clock=lambda: 1_799_999_999.0)()
        late = node_health(r, peers=lambda: 0, solo=True, clock=lambda: 1_800_000_100.0)()
    finally:
        r.close()
    assert early["ok"] and early["height"] == 0 and early["last_block_age_ms"] == -1000
    assert late["reasons"] == ["stale_block"]


def test_health_when_the_store_is_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "not.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    doc = node_health(Reader(bad), peers=lambda: 1, solo=False)()
    assert doc["ok"] is False and doc["reasons"] == ["store_unreadable"] and doc["error"]


def test_net_methods_refuse_a_status_that_does_not_fit() -> None:
    bad_peer = {"id": "ab", "addr": "1.2.3.4:5", "inbound": "yes", "since": 1.0, "score": 0.0}
    statuses: list[dict[str, Any]] = [{"peers": [bad_peer]}, {"peers": "none"}]

    async def go() -> list[dict[str, Any]]:
        out = []
        for st in statuses:
            rpc = RpcServer(registry=Registry())
            register_net_methods(rpc.registry, lambda st=st: st, lambda: {"node_id": "ab"})
            out.append(await call(rpc, "net_peers"))
            out.append(await call(rpc, "net_info"))
            rpc.executor.shutdown()
        rpc = RpcServer(registry=Registry())
        register_net_methods(rpc.registry, lambda: {}, lambda: {"name": "no id"})
        out.append(await call(rpc, "net_info"))
        empty = await call(rpc, "net_peers")
        assert empty["result"] == []
        rpc.executor.shutdown()
        return out

    for res in run(go()):
        assert error_of(res) == (-32603, "bad_status")  # our bug: the client learns no more
        assert res["error"]["message"] == "Internal error"
