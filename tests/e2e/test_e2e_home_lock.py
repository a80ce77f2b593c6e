"""A second `agora node` on a running node's home is refused, and the first keeps going."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import NodeProc, wait_until

from agora.devnet import free_ports
from agora.node_home import HomeSpec, init_home

pytestmark = pytest.mark.e2e


def test_a_second_node_on_the_same_home_is_refused(tmp_path: Path) -> None:
    p2p, rpc = (f"127.0.0.1:{p}" for p in free_ports(2))
    home = tmp_path / "solo"
    init_home(home, HomeSpec(name="solo", p2p=p2p, rpc=rpc, validator=True))
    node = NodeProc("solo", home, p2p, rpc)
    node.start()
    try:
        wait_until(lambda: node.height() >= 2, 60, "the node at height 2")
        second = subprocess.run(
            [sys.executable, "-m", "agora", "node", "--home", str(home)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1 and node.proc is not None
        assert "[home_locked]" in second.stderr and f"pid {node.proc.pid}" in second.stderr
        h = node.height()
        wait_until(lambda: node.height() > h, 30, "the first node still committing")
    finally:
        assert node.stop() == 0, node.log_tail()
