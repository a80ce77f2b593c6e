"""chain_status, chain_getBlock, chain_getCommit, tx_get and account_get through the dispatcher,
over a real chain store: values, shapes, proofs, and every error path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rpc_chain_util import World, call, error_of
from rpc_helpers import run

from agora.blockchain.merkle import MerkleProof, verify_proof
from agora.blockchain.votes import Commit, CommitSig
from agora.rpc.views import TxInclusion, verify_tx_proof


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "chain.sqlite")
    yield w
    w.close()


def calls(world: World, todo: list[tuple[str, Any]], **kw: Any) -> list[dict[str, Any]]:
    rpc = world.rpc(**kw)

    async def go() -> list[dict[str, Any]]:
        return [await call(rpc, m, p) for m, p in todo]

    try:
        return run(go())
    finally:
        rpc.executor.shutdown()


def one(world: World, method: str, params: Any = None, **kw: Any) -> dict[str, Any]:
    return calls(world, [(method, params)], **kw)[0]


def test_status_is_the_chains(world: World) -> None:
    hooks = world.hooks()
    world.chain.mempool.add(world.transfer(3, 0, 1))
    st = one(world, "chain_status", **hooks)["result"]
    c = world.chain
    assert st["chain_id"] == "agora-rpc-test"
    assert st["height"] == 5 == c.height
    assert st["block_id"] == c.last_block_id.hex()
    assert st["time_ms"] == c.time_ms
    assert st["state_root"] == c.state_root.hex()
    assert st["genesis_hash"] == world.genesis.hash().hex()
    keys = sorted(bytes(k.verify_key).hex() for k in world.vals)
    assert [v["pub_key"] for v in st["validators"]] == keys
    assert st["total_power"] == sum(v["power"] for v in st["validators"]) > 0
    assert st["catching_up"] is False and st["mempool_size"] == 1
    bare = one(world, "chain_status")["result"]  # a node that gives no hooks
    assert bare["catching_up"] is None and bare["mempool_size"] is None


def test_block_by_height_hash_and_position(world: World) -> None:
    b3 = world.blocks[3]
    todo: list[tuple[str, Any]] = [
        ("chain_getBlock", {"height": 3}),
        ("chain_getBlock", {"hash": b3.block_id.hex()}),
        ("chain_getBlock", [3]),
        ("chain_getBlock", [None, b3.block_id.hex()]),
        ("chain_getBlock", {"hash": b3.block_id.hex().upper()}),
    ]
    by_height, by_hash, pos_h, pos_hash, upper = (r["result"] for r in calls(world, todo))
    assert by_height == by_hash == pos_h == pos_hash == upper
    assert by_height["id"] == b3.block_id.hex()
    h = by_height["header"]
    assert h["height"] == 3 and h["chain_id"] == "agora-rpc-test"
    assert h["prev_hash"] == world.blocks[2].block_id.hex()
    assert h["state_root"] == world.blocks[2].state_root.hex()
    txs = by_height["txs"]
    assert [t["hash"] for t in txs] == [x.hex() for x in b3.tx_hashes]
    assert [(t["code"], t["nonce"]) for t in txs] == [("ok", 2), ("insufficient_balance", 3)]
    assert "800" in txs[1]["message"]
    assert txs[0]["sender"] == world.key(0).hex() and txs[0]["kind"] == "transfer"
    assert txs[0]["body"] is not None and len(txs[0]["body"]) > 64
    lc = by_height["last_commit"]
    assert lc["height"] == 2 and lc["block_id"] == world.blocks[2].block_id.hex()
    assert len(lc["signatures"]) == 2 and by_height["evidence"] == []
    b1 = one(world, "chain_getBlock", {"height": 1})["result"]
    assert b1["last_commit"] is None and b1["txs"] == []
    assert b1["header"]["prev_hash"] == world.genesis.hash().hex()
    fee = one(world, "chain_getBlock", [4])["result"]["txs"][0]
    assert fee["fee"] == 5 and fee["code"] == "ok"


def test_block_errors(world: World) -> None:
    unknown = "ab" * 32
    res = calls(world, [
        ("chain_getBlock", {"height": 6}),
        ("chain_getBlock", {"hash": unknown}),
        ("chain_getBlock", {"height": 2, "hash": world.blocks[2].block_id.hex()}),
        ("chain_getBlock", {}),
        ("chain_getBlock", {"hash": "zz" * 32}),
        ("chain_getBlock", {"hash": "ab" * 31}),
        ("chain_getBlock", {"height": "3"}),
        ("chain_getBlock", {"height": 0}),
        ("chain_getBlock", {"height": -1}),
        ("chain_getBlock", {"height": 2**70}),
        ("chain_getBlock", {"height": 1.5}),
        ("chain_getBlock", [1, None, 3]),
        ("chain_getBlock", {"number": 3}),
    ])  # fmt: skip
    assert error_of(res[0]) == (-32004, "not_found")
    assert res[0]["error"]["data"]["height"] == 5  # where the chain is
    assert error_of(res[1]) == (-32004, "not_found")
    for r in res[2:]:
        assert error_of(r) == (-32602, "invalid_params"), r


def test_commit_canonical_and_seen(world: World) -> None:
    c2, c5, missing, bad = calls(world, [
        ("chain_getCommit", {"height": 2}),
        ("chain_getCommit", [5]),
        ("chain_getCommit", {"height": 6}),
        ("chain_getCommit", {"height": "2"}),
    ])  # fmt: skip
    b3 = one(world, "chain_getBlock", {"height": 3})["result"]
    assert c2["result"]["canonical"] is True
    assert {k: c2["result"][k] for k in b3["last_commit"]} == b3["last_commit"]
    tip = c5["result"]
    assert tip["canonical"] is False and tip["block_id"] == world.blocks[5].block_id.hex()
    for doc in (c2["result"], tip):  # a client can check the signatures itself
        sigs = [CommitSig(bytes.fromhex(s["validator"]), bytes.fromhex(s["signature"]))
                for s in doc["signatures"]]  # fmt: skip
        commit = Commit(doc["height"], doc["round"], bytes.fromhex(doc["block_id"]), sigs)
        commit.verify("agora-rpc-test", world.chain.valset)
    assert error_of(missing) == (-32004, "not_found")
    assert error_of(bad) == (-32602, "invalid_params")


def test_tx_get_with_a_proof_that_verifies(world: World) -> None:
    world.step(*(world.transfer(3, 0, 1) for _ in range(2)), world.transfer(1, 0, 1))  # block 6
    hashes = world.blocks[6].tx_hashes
    for i, h in enumerate(hashes):
        got = one(world, "tx_get", {"hash": h.hex()})["result"]
        block = one(world, "chain_getBlock", {"height": got["height"]})["result"]
        root = block["header"]["tx_root"]
        assert got["height"] == 6 and got["index"] == i and got["block_id"] == block["id"]
        assert got["proof"]["root"] == root and got["proof"]["size"] == 3
        assert got["tx"] == block["txs"][i]
        assert verify_tx_proof(got, root)  # against the header, not the answer's own root
        assert verify_tx_proof(msgspec.convert(got, TxInclusion), bytes.fromhex(root))
        path = [bytes.fromhex(p) for p in got["proof"]["path"]]
        mp = MerkleProof(i, 3, path)
        assert verify_proof(bytes.fromhex(root), h, mp)
    # Any change to the answer breaks the proof.
    got = one(world, "tx_get", {"hash": hashes[1].hex()})["result"]
    other_root = one(world, "chain_getBlock", [5])["result"]["header"]["tx_root"]
    assert not verify_tx_proof(got, other_root)
    for tamper in (
        lambda d: d["tx"].update(nonce=d["tx"]["nonce"] + 1),
        lambda d: d["tx"].update(fee=99),
        lambda d: d["proof"].update(index=0),
        lambda d: d.update(index=2),
        lambda d: d["proof"]["path"].reverse(),
        lambda d: d["proof"].update(path=["zz"]),
        lambda d: d.pop("proof"),
    ):
        doc = msgspec.json.decode(msgspec.json.encode(got))
        tamper(doc)
        assert not verify_tx_proof(doc), tamper
    failed = one(world, "tx_get", {"hash": world.blocks[3].tx_hashes[1].hex()})["result"]
    assert failed["tx"]["code"] == "insufficient_balance"
    b3_root = one(world, "chain_getBlock", [3])["result"]["header"]["tx_root"]
    assert verify_tx_proof(failed, b3_root)  # a failed tx is still in the block


def test_tx_get_not_found_and_pending(world: World) -> None:
    tx = world.transfer(3, 0, 1)
    h = world.chain.mempool.add(tx)
    hooks = world.hooks()
    pending, unknown, bad, short = calls(world, [
        ("tx_get", {"hash": h.hex()}),
        ("tx_get", ["cd" * 32]),
        ("tx_get", {"hash": "x" * 64}),
        ("tx_get", {"hash": "abc"}),
    ], **hooks)  # fmt: skip
    assert error_of(pending) == (-32004, "not_found")
    assert pending["error"]["data"]["pending"] is True
    assert error_of(unknown) == (-32004, "not_found")
    assert unknown["error"]["data"]["pending"] is False
    assert error_of(bad) == error_of(short) == (-32602, "invalid_params")
    bare = one(world, "tx_get", {"hash": h.hex()})  # without hooks: no claim either way
    assert error_of(bare) == (-32004, "not_found") and "pending" not in bare["error"]["data"]


def test_account_get(world: World) -> None:
    hooks = world.hooks()
    u0, u1, u4, bad = calls(world, [
        ("account_get", {"address": world.key(0).hex()}),
        ("account_get", [world.key(1).hex()]),
        ("account_get", {"address": world.key(4).hex()}),
        ("account_get", {"address": "00"}),
    ], **hooks)  # fmt: skip
    a0 = u0["result"]
    assert a0["address"] == world.key(0).hex() and a0["height"] == 5
    assert a0["balance"] == 1000 - 100 - 800 and a0["nonce"] == 3 and a0["next_nonce"] == 4
    assert a0["pending"] == 0 and a0["quota_capacity"] == 3
    assert 0 <= a0["quota_left"] < 0.1  # three actions spent seconds ago
    a1 = u1["result"]
    assert a1["balance"] == 1000 + 100 - 50 and a1["nonce"] == 1
    assert 1.9 < a1["quota_left"] <= 2.1
    new = u4["result"]  # never seen: a new account, with a full quota
    assert (new["balance"], new["nonce"], new["next_nonce"], new["quota_left"]) == (0, 0, 1, 3.0)
    assert error_of(bad) == (-32602, "invalid_params")
    # With txs waiting in the mempool, the next nonce comes after them.
    world.chain.mempool.add(world.transfer(3, 0, 1))
    world.chain.mempool.add(world.transfer(3, 0, 1))
    a3 = one(world, "account_get", {"address": world.key(3).hex()}, **hooks)["result"]
    assert (a3["nonce"], a3["pending"], a3["next_nonce"]) == (0, 2, 3)
    plain = one(world, "account_get", {"address": world.key(3).hex()})["result"]
    assert (plain["pending"], plain["next_nonce"]) == (None, 1)
