"""A network assembled with `agora genesis` (not a devnet) runs: real processes on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from harness import NodeProc, RpcFailure, wait_until

from agora.config import load_config, save_config
from agora.devnet import free_ports

pytestmark = pytest.mark.e2e


def _agora(*args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "agora", *args], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_two_validators_from_an_assembled_genesis_commit_together(tmp_path: Path) -> None:
    ports = free_ports(4)
    homes = [tmp_path / "a", tmp_path / "b"]
    nodes: list[NodeProc] = []
    for i, home in enumerate(homes):
        p2p, rpc = f"127.0.0.1:{ports[2 * i]}", f"127.0.0.1:{ports[2 * i + 1]}"
        boot = ["--bootstrap", nodes[0].p2p] if nodes else []
        _agora("init", "--home", str(home), "--validator", "--p2p", p2p, "--rpc", rpc, *boot)
        config = load_config(home / "config.toml")
        config.consensus.block_interval_ms = 300
        save_config(config, home / "config.toml")
        nodes.append(NodeProc(home.name, home, p2p, rpc))
    g = tmp_path / "genesis.json"
    # Powers 10 and 5: a quorum (11 of 15) needs both, so a block proves they agreed.
    _agora("genesis", "new", str(g), "--chain-id", "testnet-1", "--validator-home", str(homes[0]))
    _agora("genesis", "add-validator", str(g), "--home", str(homes[1]), "--power", "5")
    for home in homes:
        _agora("genesis", "install", str(g), "--home", str(home))
    try:
        for n in nodes:
            n.start()
        wait_until(lambda: min(n.height() for n in nodes) >= 3, 60, "both nodes at height 3")
        st = nodes[1].call("chain_status")
        assert st["chain_id"] == "testnet-1" and st["total_power"] == 15
        blocks = [n.call("chain_getBlock", {"height": 3})["id"] for n in nodes]
        assert blocks[0] == blocks[1]
        shown = _agora("status", "--rpc", f"http://{nodes[0].rpc}")
        assert "testnet-1" in shown and "2 (total power 15)" in shown
        assert re.search(r"\b1 \([01] in, [01] out\), 0 banned", shown), shown
        with pytest.raises(RpcFailure) as e:  # a real network has no faucet
            nodes[0].call("dev_faucet", {"address": "ab" * 32})
        assert e.value.data.get("code") == "method_not_found"
    finally:
        for n in nodes:
            n.stop()
    assert all(n.proc is not None and n.proc.returncode == 0 for n in nodes), nodes[0].log_tail()
