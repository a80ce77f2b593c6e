"""`agora devnet` as a real process: 4 nodes find each other, stop on SIGINT, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _statuses(root: Path) -> dict[str, dict[str, object]]:
    out = {}
    for home in sorted(root.glob("node*")):
        try:
            out[home.name] = json.loads((home / "status.json").read_text())
        except (OSError, ValueError):
            pass
    return out


def _meshed(root: Path, n: int) -> dict[str, str] | None:
    """Node ids by name once every node lists the n-1 others as peers."""
    docs = _statuses(root)
    if len(docs) != n:
        return None
    ids = {name: str(d["node_id"]) for name, d in docs.items()}
    for name, d in docs.items():
        peers = {str(p["id"]) for p in d["peers"]}  # type: ignore[union-attr]
        if peers != set(ids.values()) - {ids[name]}:
            return None
    return ids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _run_until_meshed(root: Path, seconds: float = 40.0) -> dict[str, str]:
    cmd = [sys.executable, "-m", "agora", "devnet", "--dir", str(root), "--nodes", "4"]
    proc = subprocess.Popen(
        [*cmd, "--base-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + seconds
        ids = None
        while time.monotonic() < deadline and proc.poll() is None:
            ids = _meshed(root, 4)
            if ids is not None:
                break
            time.sleep(0.2)
        assert ids is not None, "the 4 nodes did not all list each other as peers"
        pids = [e["pid"] for e in json.loads((root / "nodes.json").read_text())]
        assert all(pid > 0 and _alive(pid) for pid in pids)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode(errors="replace")
        assert b"stopped" in out and b"node3" in out
        node0 = json.loads((root / "nodes.json").read_text())[0]
        assert f"web client: http://{node0['rpc']}/".encode() in out
        assert not any(_alive(pid) for pid in pids), "a node process outlived the devnet"
        assert all(e["pid"] == 0 for e in json.loads((root / "nodes.json").read_text()))
        return ids
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_devnet_starts_four_nodes_that_peer_stops_on_sigint_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "devnet"
    first = _run_until_meshed(root)
    for name in first:
        (root / name / "status.json").unlink()  # so the second run must write its own
    again = _run_until_meshed(root)
    assert again == first  # the same homes, the same node ids
    genesis = {(root / name / "genesis.json").read_bytes() for name in first}
    assert len(genesis) == 1  # one chain


def test_nodes_do_not_outlive_a_killed_devnet(tmp_path: Path) -> None:
    """SIGKILL gives `agora devnet` no chance to stop its nodes: they stop by themselves."""
    root = tmp_path / "devnet"
    cmd = [sys.executable, "-m", "agora", "devnet", "--dir", str(root), "--nodes", "2"]
    proc = subprocess.Popen(
        [*cmd, "--base-port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not pids:
            try:
                found = [int(e["pid"]) for e in json.loads((root / "nodes.json").read_text())]
            except (OSError, ValueError):
                found = []
            if found and all(p > 0 for p in found):
                pids = found
            time.sleep(0.2)
        assert pids and all(_alive(p) for p in pids), "the devnet never started its nodes"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        left = [p for p in pids if _alive(p)]
        assert not left, f"nodes {left} outlived the devnet"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
