"""A running chain: 4 validator processes on loopback, transfers over RPC, crashes, a full node.

Real `agora node` processes (see harness.py); blocks every 400 ms. Every wait
is bounded; each test leaves no process behind.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from harness import Devnet, Faucet, NodeProc, RpcFailure, wait_until

pytestmark = pytest.mark.e2e

INTERVAL_MS = 400


def _agree(net: Devnet, nodes: list[NodeProc], upto: int) -> dict[int, tuple[str, str]]:
    """Every node has the same block id and header state root at every height 1..upto."""
    first = net.block_ids(nodes[0], upto)
    for n in nodes[1:]:
        ids = net.block_ids(n, upto)
        diff = [h for h in first if ids[h] != first[h]]
        assert not diff, f"{n.name} differs from {nodes[0].name} at heights {diff[:5]}"
    return first


def _top(nodes: list[NodeProc]) -> int:
    return max(n.height() for n in nodes)


def _included(node: NodeProc, hashes: list[str]) -> bool:
    return all(node.try_call("tx_get", {"hash": h}) for h in hashes)


def _submit(node: NodeProc, tx: str) -> dict[str, str] | None:
    try:
        return dict(node.call("tx_submit", {"tx": tx}))
    except RpcFailure as e:
        if e.data.get("code") == "nonce_gap":
            return None
        raise


def _no_evidence(nodes: list[NodeProc]) -> None:
    for n in nodes:
        st = n.status()
        assert st is not None and st["evidence"] == {}, f"{n.name} saw equivocation: {st}"


def test_validators_commit_transfers_over_rpc_agree_and_a_full_node_syncs(tmp_path: Path) -> None:
    with Devnet(tmp_path, 4, block_interval_ms=INTERVAL_MS) as net:
        net.start()
        net.wait_height(2, timeout=60)
        faucet = Faucet(net.chain_id)
        to = [os.urandom(32) for _ in range(5)]
        hashes = []
        for i in range(20):
            tx, h = faucet.transfer(to[i % 5], 100 + i)
            # Consecutive nonces go to different nodes: one may not have the previous tx
            # from gossip yet and says nonce_gap, which tells a client to try again.
            node = net.nodes[i % 4]
            got = wait_until(lambda n=node, t=tx: _submit(n, t), 10, f"transfer {i} admitted")
            assert got["hash"] == h
            hashes.append(h)
        wait_until(lambda: _included(net.nodes[3], hashes), 30, "the 20 transfers in blocks")
        top = _top(net.nodes)
        net.wait_height(top)
        blocks = _agree(net, net.nodes, top)
        carried = sum(
            len(net.nodes[1].call("chain_getBlock", {"height": h})["txs"]) for h in blocks
        )
        assert carried == 20
        account = net.nodes[2].call("account_get", {"address": to[0].hex()})
        assert account["balance"] == 100 + 105 + 110 + 115
        # a fifth node, not a validator, joins later and follows the tip
        full = net.add_full_node()
        full.start()
        top = _top(net.nodes[:4])
        net.wait_height(top + 2, nodes=[full], timeout=60)
        st = full.status()
        assert st is not None and st["validator"] is False
        _agree(net, [net.nodes[0], full], top + 2)
        _no_evidence(net.nodes)
        for n in net.nodes:
            assert n.stop() == 0, n.log_tail()


def test_one_validator_down_then_two(tmp_path: Path) -> None:
    with Devnet(tmp_path, 4, block_interval_ms=INTERVAL_MS) as net:
        v = net.nodes
        net.start()
        net.wait_height(2, timeout=60)
        # one down: the other three keep committing
        v[2].kill()
        h = _top(v)
        net.wait_height(h + 4, nodes=[v[0], v[1], v[3]], timeout=30)
        # back: it catches up (block sync) and agrees
        v[2].start()
        h = _top(v)
        net.wait_height(h + 2, nodes=v, timeout=60)
        # two down: no quorum, no commits
        v[1].kill()
        v[3].kill()
        time.sleep(1.0)  # a height decided just before the kill may still be stored
        stuck = {n.name: n.height() for n in (v[0], v[2])}
        time.sleep(8 * INTERVAL_MS / 1000)
        assert {n.name: n.height() for n in (v[0], v[2])} == stuck
        # one back: three of four again, commits resume
        v[3].start()
        net.wait_height(max(stuck.values()) + 2, nodes=[v[0], v[2], v[3]], timeout=60)
        v[1].start()
        top = _top(v)
        net.wait_height(top, nodes=v, timeout=60)
        _agree(net, v, top)  # never two different blocks at one height
        _no_evidence(v)
        for n in v:
            assert n.stop() == 0, n.log_tail()


def test_a_validator_killed_at_random_moments_never_signs_twice(tmp_path: Path) -> None:
    rng = random.Random(20240611)
    with Devnet(tmp_path, 4, block_interval_ms=INTERVAL_MS) as net:
        v = net.nodes
        net.start()
        net.wait_height(2, timeout=60)
        victim = v[1]
        for _ in range(6):
            time.sleep(rng.uniform(0.3, 2.0))
            victim.kill()
            time.sleep(rng.uniform(0.0, 0.8))
            victim.start()
        top = _top(v)
        net.wait_height(top + 3, nodes=v, timeout=60)
        # it rejoined: it signs again (its precommits are in the latest commits)
        me = victim.status()["validator_key"]  # type: ignore[index]

        def signed_by_victim() -> bool:
            h = v[0].height()
            commit = v[0].try_call("chain_getCommit", {"height": h})
            return bool(commit) and any(s["validator"] == me for s in commit["signatures"])

        wait_until(signed_by_victim, 30, "a commit with the restarted validator's signature")
        _no_evidence(v)
        top = _top(v)
        net.wait_height(top, nodes=v)
        _agree(net, v, top)
        for n in v:
            assert n.stop() == 0, n.log_tail()
