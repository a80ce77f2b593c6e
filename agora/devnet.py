"""Run a local network: N node processes on loopback, supervised.

The nodes report themselves through `status.json` in their homes, which the
supervisor reads to print the peer table and the committed blocks.

Both files are read without trusting them: `load_nodes` answers anything but a
list of node entries (with the right types and distinct names) with LocalError
`bad_devnet`, and `read_status` answers anything but a status document with None,
as it does while the file is missing or being replaced.
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
from typing import Annotated, Any

import msgspec

from agora import lifeline
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


class _Peer(msgspec.Struct):
    id: str = ""


class _Status(msgspec.Struct):
    """The part of a node's status.json the supervisor reads; the rest is ignored."""

    height: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0
    peers: list[_Peer] = []
    node_id: str = ""
    last_block: dict[str, Any] | None = None
    validator_key: str | None = None


# msgspec raises UnicodeDecodeError for a str that is not UTF-8, and RecursionError
# for a `last_block` nested too deep.
_UNDECODABLE = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


def load_nodes(path: Path) -> list[NodeEntry]:
    """The devnet's manifest; LocalError `bad_devnet` if it cannot be read or is not one."""
    try:
        nodes = msgspec.json.decode(path.read_bytes(), type=list[NodeEntry])
    except (OSError, *_UNDECODABLE) as e:
        raise LocalError(f"{path}: unreadable devnet manifest: {e}", code="bad_devnet") from None
    if len({n.name for n in nodes}) != len(nodes):
        raise LocalError(f"{path}: two nodes have the same name", code="bad_devnet")
    return nodes


def save_nodes(path: Path, nodes: list[NodeEntry]) -> None:
    write_atomic(path, json.dumps([asdict(n) for n in nodes], indent=2).encode())


def read_status(home: str) -> NodeView | None:
    """What the node at `home` last reported; None if there is no status to read."""
    try:
        doc = msgspec.json.decode(Home(home).status.read_bytes(), type=_Status)
    except (OSError, *_UNDECODABLE):
        return None  # not written yet, being replaced, or not a status
    return NodeView(
        height=doc.height,
        peers=[p.id for p in doc.peers],
        node_id=doc.node_id,
        last_block=doc.last_block or {},
        validator_key=doc.validator_key or "",
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
                env=lifeline.child_env(),  # the node stops if we die, even by SIGKILL
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


def homes_in_use(root: Path) -> list[Path]:
    """The node homes under `root` whose lock a running node holds (pids aside: a
    manifest can be lost or stale, the kernel's locks cannot)."""
    from agora.home_lock import HomeLock

    busy = []
    for home in sorted(p for p in root.iterdir() if (p / "config.toml").is_file()):
        try:
            HomeLock.acquire(home).release()
        except LocalError:
            busy.append(home)
    return busy


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
