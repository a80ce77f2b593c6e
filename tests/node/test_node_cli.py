"""`agora init`, `agora node` and `agora bench p2p --quick`."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from agora.blockchain.genesis import load_genesis
from agora.cli import main
from agora.config import load_config
from agora.peer_net.bench import EXTRA_KEYS, KEYS
from agora.peer_net.identity import NodeKey


def _init(home: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["init", "--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_init_writes_a_key_a_config_and_a_single_validator_genesis(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    out = _init(home, "--p2p", "127.0.0.1:7100", "--bootstrap", "127.0.0.1:7200")
    key = NodeKey.load(home / "node_key")
    assert key.hex in out
    assert stat.S_IMODE((home / "node_key").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "validator_key").stat().st_mode) == 0o600
    config = load_config(home / "config.toml")
    assert (config.node.name, config.p2p.listen) == ("alice", "127.0.0.1:7100")
    assert config.p2p.bootstrap == ["127.0.0.1:7200"] and config.consensus.validator
    genesis = load_genesis(home / "genesis.json")
    validator = NodeKey.load(home / "validator_key")
    assert [v.pub_key for v in genesis.validators] == [validator.node_id]
    assert genesis.chain_id == "agora-dev"


def test_init_refuses_an_existing_home_unless_forced(tmp_path: Path) -> None:
    home = tmp_path / "n"
    _init(home)
    first = (home / "node_key").read_text()
    result = CliRunner().invoke(main, ["init", "--home", str(home)])
    assert result.exit_code != 0 and "home_exists" in result.output
    assert (home / "node_key").read_text() == first
    _init(home, "--force")
    assert (home / "node_key").read_text() != first


def test_init_joins_a_given_genesis(tmp_path: Path) -> None:
    _init(tmp_path / "a", "--chain-id", "shared-1")
    out = _init(tmp_path / "b", "--genesis", str(tmp_path / "a" / "genesis.json"))
    assert "shared-1" in out and not (tmp_path / "b" / "validator_key").exists()
    assert (tmp_path / "a" / "genesis.json").read_bytes() == (
        tmp_path / "b" / "genesis.json"
    ).read_bytes()
    assert not load_config(tmp_path / "b" / "config.toml").consensus.validator
    (tmp_path / "bad.json").write_text('{"chain_id": 5}')
    result = CliRunner().invoke(
        main, ["init", "--home", str(tmp_path / "c"), "--genesis", str(tmp_path / "bad.json")]
    )
    assert result.exit_code != 0 and "bad_genesis" in result.output


def test_node_runs_writes_its_status_and_stops_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "n"
    _init(home, "--p2p", "127.0.0.1:0", "--rpc", "127.0.0.1:0", "--name", "solo")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agora", "node", "--home", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        doc = None
        for _ in range(300):
            try:
                doc = json.loads((home / "status.json").read_text())
                if doc["p2p"]:  # bound: the port is known
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        assert doc is not None, "no status.json"
        key = NodeKey.load(home / "node_key")
        assert (doc["name"], doc["node_id"], doc["pid"]) == ("solo", key.hex, proc.pid)
        assert doc["network"] == "agora-dev" and doc["peers"] == []
        assert doc["p2p"].startswith("127.0.0.1:") and not doc["p2p"].endswith(":0")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err.decode(errors="replace")
        events = [json.loads(line)["event"] for line in err.decode().splitlines() if line]
        assert "p2p_started" in events and events[-1] == "node_stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_node_without_a_home_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["node", "--home", str(tmp_path / "none")])
    assert result.exit_code != 0 and "no_config" in result.output


def test_bench_p2p_quick_prints_the_json_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "p2p", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output.strip().splitlines()[-1])
    assert tuple(doc) == KEYS + EXTRA_KEYS  # the keys first, then the gossip path
    assert all(isinstance(v, int | float) and v > 0 for v in doc.values())
    ratio = doc["p2p_msgs_per_s_1024"] / doc["plain_msgs_per_s_1024"]
    assert abs(doc["ratio_1024"] - ratio) < 0.01
