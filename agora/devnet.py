"""Run a local network: N node processes on loopback, supervised.

The nodes report themselves through `status.json` in their homes, which the
supervisor reads to print the peer table and the committed blocks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agora.blockchain.genesis import make_dev_genesis
from agora.config import Home, write_atomic
from agora.errors import LocalError
from agora.node_home import HomeSpec, init_home
from agora.peer_net.identity import NodeKey


@dataclass
class NodeEntry:
    name: str
    home: str
    p2p: str
    rpc: str
    pid: int = 0


@dataclass
class NodeView:
    """What the supervisor last read of one node's status.json."""

    height: int = 0
    peers: list[str] = field(default_factory=list)
    node_id: str = ""
    last_block: dict[str, Any] = field(default_factory=dict)
    validator_key: str = ""  # hex; "" for a full node


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports the kernel hands out now; a devnet keeps them in its configs."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def plan_ports(n: int, base_port: int) -> list[tuple[int, int]]:
    """(p2p, rpc) per node: `base+10i` and `base+10i+1`, or free ports when base is 0."""
    if base_port == 0:
        ports = free_ports(2 * n)
        return [(ports[2 * i], ports[2 * i + 1]) for i in range(n)]
    return [(base_port + 10 * i, base_port + 10 * i + 1) for i in range(n)]


def load_nodes(path: Path) -> list[NodeEntry]:
    try:
        return [NodeEntry(**e) for e in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError) as e:
        raise LocalError(f"{path}: unreadable devnet manifest: {e}", code="bad_devnet") from None


def save_nodes(path: Path, nodes: list[NodeEntry]) -> None:
    write_atomic(path, json.dumps([asdict(n) for n in nodes], indent=2).encode())


def read_status(home: str) -> NodeView | None:
    try:
        doc = json.loads(Home(home).status.read_text())
    except (OSError, ValueError):
        return None  # not written yet, or being replaced
    if not isinstance(doc, dict):
        return None
    peers = [str(p.get("id", "")) for p in doc.get("peers", []) if isinstance(p, dict)]
    return NodeView(
        height=int(doc.get("height", 0)),
        peers=peers,
        node_id=str(doc.get("node_id", "")),
        last_block=doc.get("last_block") or {},
        validator_key=str(doc.get("validator_key") or ""),
    )


class Supervisor:
    """Starts node processes in their own sessions so that Ctrl-C reaches us alone."""

    def __init__(self, nodes: list[NodeEntry], manifest: Path) -> None:
        self.nodes = nodes
        self.manifest = manifest
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for node in self.nodes:
            log = open(Path(node.home) / "node.log", "ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "agora", "node", "--home", node.home],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()  # the child holds its own copy
            node.pid = proc.pid
            self.procs[node.name] = proc
        save_nodes(self.manifest, self.nodes)

    def dead(self) -> list[tuple[NodeEntry, int]]:
        out = []
        for node in self.nodes:
            proc = self.procs.get(node.name)
            if proc is not None and proc.poll() is not None:
                out.append((node, proc.returncode))
        return out

    def stop(self, timeout: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for node in self.nodes:
            node.pid = 0
        save_nodes(self.manifest, self.nodes)


def log_tail(home: str, lines: int = 15) -> str:
    try:
        with open(Path(home) / "node.log", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


def create(root: Path, n: int, base_port: int, chain_id: str = "agora-devnet") -> list[NodeEntry]:
    """N homes under `root` sharing one genesis whose validators are all N nodes.

    node0 is the bootstrap node of the others; the faucet is funded.
    """
    if n < 1:
        raise LocalError("a devnet has at least one node", code="bad_devnet")
    ports = plan_ports(n, base_port)
    validators = [NodeKey.generate() for _ in range(n)]
    genesis = make_dev_genesis(chain_id, [v.node_id for v in validators])
    nodes = []
    for i, ((p2p, rpc), vkey) in enumerate(zip(ports, validators, strict=True)):
        name = f"node{i}"
        spec = HomeSpec(
            name=name,
            p2p=f"127.0.0.1:{p2p}",
            rpc=f"127.0.0.1:{rpc}",
            bootstrap=[] if i == 0 else [f"127.0.0.1:{ports[0][0]}"],
            validator=True,
        )
        init_home(root / name, spec, genesis=genesis, validator_key=vkey)
        nodes.append(NodeEntry(name, str(root / name), spec.p2p, spec.rpc))
    save_nodes(root / "nodes.json", nodes)
    return nodes


def still_running(nodes: list[NodeEntry]) -> list[NodeEntry]:
    """Nodes whose recorded pid is alive (a devnet that was not stopped cleanly)."""
    out = []
    for node in nodes:
        if node.pid > 0:
            try:
                os.kill(node.pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass  # alive, owned by someone else
            out.append(node)
    return out
