"""The benchmark's devnet: 4 validator processes on free loopback ports, torn down always.

    with BenchNet(root, nodes=4, load_keys=[...]) as net:   # homes made, processes started
        net.wait_ready(timeout=60)
        net.peak_rss_mb()                                     # {name: VmHWM in MB}

The load accounts are funded in the genesis (cheaper than faucet transfers),
and the homes are made the way `agora devnet` makes them (`agora.devnet`),
with the default block interval unless one is given.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import TracebackType

from agora.blockchain.genesis import make_dev_genesis
from agora.config import load_config, save_config
from agora.devnet import NodeEntry, Supervisor, log_tail, plan_ports, read_status, save_nodes
from agora.errors import LocalError
from agora.node_home import HomeSpec, init_home
from agora.peer_net.identity import NodeKey

CHAIN_ID = "agora-bench-devnet"
LOAD_BALANCE = 1_000_000  # quota capacity 1,000 actions an hour each (genesis defaults)


def create_homes(
    root: Path, n: int, load_keys: list[bytes], block_interval_ms: int | None = None
) -> list[NodeEntry]:
    """N validator homes under `root` sharing a genesis that funds `load_keys`."""
    ports = plan_ports(n, 0)
    validators = [NodeKey.generate() for _ in range(n)]
    genesis = make_dev_genesis(
        CHAIN_ID, [v.node_id for v in validators], load_keys, amount=LOAD_BALANCE
    )
    nodes = []
    for i, ((p2p, rpc), vkey) in enumerate(zip(ports, validators, strict=True)):
        spec = HomeSpec(
            name=f"node{i}",
            p2p=f"127.0.0.1:{p2p}",
            rpc=f"127.0.0.1:{rpc}",
            bootstrap=[] if i == 0 else [f"127.0.0.1:{ports[0][0]}"],
            validator=True,
        )
        home = root / spec.name
        init_home(home, spec, genesis=genesis, validator_key=vkey)
        cfg = load_config(home / "config.toml")
        cfg.p2p.pex_interval_s = 1.0  # a full mesh sooner
        if block_interval_ms is not None:
            cfg.consensus.block_interval_ms = block_interval_ms
        save_config(cfg, home / "config.toml")
        nodes.append(NodeEntry(spec.name, str(home), spec.p2p, spec.rpc))
    save_nodes(root / "nodes.json", nodes)
    return nodes


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system, all its threads); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def machine_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of this machine so far, from /proc/stat; (0, 0) if unknown.
    Stolen ticks are the hypervisor running someone else on our cores."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
        return sum(ticks), ticks[7]
    except (OSError, ValueError, IndexError):
        return 0, 0


def vm_hwm_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM) in MB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class BenchNet:
    def __init__(
        self,
        root: Path,
        *,
        nodes: int,
        load_keys: list[bytes],
        block_interval_ms: int | None = None,
    ) -> None:
        self.root = root
        self.entries = create_homes(root, nodes, load_keys, block_interval_ms)
        self.sup = Supervisor(self.entries, root / "nodes.json")
        self._rss: dict[str, float] = {}

    def __enter__(self) -> BenchNet:
        try:
            self.sup.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """SIGTERM every node, SIGKILL what has not stopped after 10 s."""
        self.sample_rss()
        self.sup.stop(timeout=10.0)

    @property
    def rpc_addrs(self) -> list[str]:
        return [e.rpc for e in self.entries]

    def check_alive(self) -> None:
        dead = self.sup.dead()
        if dead:
            node, rc = dead[0]
            tail = log_tail(node.home, 20)
            raise LocalError(f"{node.name} exited with {rc}:\n{tail}", code="node_died")

    def wait_ready(self, timeout: float, mesh_s: float = 20.0, min_height: int = 2) -> list[int]:
        """Until every node has committed `min_height` with a peer, then (for at most `mesh_s`
        more) until each has all the others as peers; each node's peer count."""
        n = len(self.entries)
        deadline = time.monotonic() + timeout
        mesh_deadline: float | None = None
        while True:
            self.check_alive()
            views = [read_status(e.home) for e in self.entries]
            peers = [0 if v is None else len(v.peers) for v in views]
            if all(v is not None and v.height >= min_height and v.peers for v in views):
                if min(peers) >= n - 1:
                    return peers
                mesh_deadline = mesh_deadline or time.monotonic() + mesh_s
                if time.monotonic() >= mesh_deadline:
                    return peers  # a partial mesh: relays carry what direct links do not
            elif time.monotonic() >= deadline:
                heights = [None if v is None else (v.height, len(v.peers)) for v in views]
                raise LocalError(f"devnet not ready: (height, peers) {heights}", code="not_ready")
            time.sleep(0.2)

    def sample_rss(self) -> dict[str, float]:
        """Each node's peak RSS so far (kept once a node has gone)."""
        for e in self.entries:
            if e.pid > 0:
                mb = vm_hwm_mb(e.pid)
                if mb > 0:
                    self._rss[e.name] = max(self._rss.get(e.name, 0.0), mb)
        return dict(self._rss)

    def sigs_verified(self) -> dict[str, int]:
        """Each node's count of tx signatures it checked (its status.json)."""
        out = {}
        for e in self.entries:
            try:
                doc = json.loads((Path(e.home) / "status.json").read_text())
                out[e.name] = int(doc["sigs_verified"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # an older node, or being replaced: not counted
        return out

    def cpu_seconds(self) -> float:
        """The CPU time all the nodes have used so far."""
        return sum(cpu_seconds(e.pid) for e in self.entries if e.pid > 0)

    def pids(self) -> dict[str, int]:
        return {e.name: e.pid for e in self.entries}
