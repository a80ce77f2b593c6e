"""`agora backup` of a running node, `agora restore` into a new full node that then syncs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import Faucet, NodeProc, wait_until

from agora.blockchain.genesis import Genesis, load_genesis
from agora.config import load_config, save_config
from agora.devnet import free_ports
from agora.node_home import HomeSpec, init_home

pytestmark = pytest.mark.e2e
DEST = b"\x5a" * 32


def _agora(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "agora", *args], capture_output=True, text=True, timeout=60
    )
    assert (r.returncode == 0) == ok, r.stdout + r.stderr
    return r


def _home(root: Path, validator: bool, genesis: Genesis | None = None) -> NodeProc:
    p2p, rpc = (f"127.0.0.1:{p}" for p in free_ports(2))
    spec = HomeSpec(name=root.name, p2p=p2p, rpc=rpc, validator=validator)
    init_home(root, spec, genesis=genesis)
    config = load_config(root / "config.toml")
    config.consensus.block_interval_ms = 300
    config.p2p.pex_interval_s = 1.0
    save_config(config, root / "config.toml")
    return NodeProc(root.name, root, p2p, rpc)


def test_a_backup_of_a_running_node_seeds_a_new_full_node(tmp_path: Path) -> None:
    solo = _home(tmp_path / "solo", True)
    genesis = load_genesis(solo.home / "genesis.json")
    solo.start()
    try:
        wait_until(lambda: solo.height() >= 2, 60, "solo at height 2")
        tx, h = Faucet(genesis.chain_id).transfer(DEST, 777)
        solo.call("tx_submit", {"tx": tx})
        wait_until(lambda: solo.try_call("tx_get", {"hash": h}), 30, "the transfer committed")
        out = tmp_path / "solo-backup.sqlite"
        said = _agora("backup", "--home", str(solo.home), str(out)).stdout
        height = int(said.split("height ")[1].split(",")[0])
        assert height >= 2 and out.stat().st_size > 0

        full = _home(tmp_path / "full", False, genesis=genesis)
        cfg = load_config(full.home / "config.toml")
        cfg.p2p.bootstrap = [solo.p2p]
        save_config(cfg, full.home / "config.toml")
        _agora("restore", str(out), "--home", str(full.home))
        again = _agora("restore", str(out), "--home", str(full.home), ok=False)
        assert "[chain_started]" in again.stderr
        other = _home(tmp_path / "other", True)  # a chain of its own
        wrong = _agora("restore", str(out), "--home", str(other.home), ok=False)
        assert "[wrong_chain]" in wrong.stderr

        full.start()
        first = wait_until(lambda: full.try_call("chain_status"), 60, "the full node answering")
        assert first["height"] >= height  # it opened where the backup was
        top = solo.height()
        wait_until(lambda: full.height() >= top, 60, f"the full node at {top}")
        a = solo.call("chain_getBlock", {"height": top})["id"]
        assert full.call("chain_getBlock", {"height": top})["id"] == a
        acct = full.call("social_getAccount", {"account": DEST.hex()})
        assert acct["balance"] == 777
        assert full.stop() == 0, full.log_tail()
    finally:
        assert solo.stop() == 0, solo.log_tail()


def test_backup_and_restore_refuse_what_is_not_a_chain(tmp_path: Path) -> None:
    empty = _home(tmp_path / "empty", True)
    r = _agora("backup", "--home", str(empty.home), str(tmp_path / "x.sqlite"), ok=False)
    assert "[no_chain]" in r.stderr
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    r = _agora("restore", str(junk), "--home", str(empty.home), ok=False)
    assert "[bad_backup]" in r.stderr
    assert not (empty.home / "data" / "chain.sqlite").exists()
