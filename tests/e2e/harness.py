"""Real `agora node` processes on 127.0.0.1 for end-to-end tests.

    with Devnet(tmp_path, validators=4, block_interval_ms=400) as net:
        net.start()
        net.wait_height(3)
        faucet = Faucet(net.chain_id)
        tx_hash = net.nodes[0].call("tx_submit", {"tx": faucet.transfer(to, 5)})["hash"]
        net.nodes[1].kill()                      # SIGKILL
        net.nodes[1].start()                     # same home: resumes
        full = net.add_full_node()               # a non-validator that syncs

Every wait is bounded (`wait_until`); leaving the `with` kills whatever is
still running. Ports are free ports the kernel handed out (`devnet.free_ports`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from agora import lifeline
from agora.blockchain.core_module import Transfer
from agora.blockchain.genesis import FAUCET_LABEL, dev_signing_key, load_genesis
from agora.blockchain.tx import encode_tx, make_tx, tx_hash
from agora.codec import encode
from agora.config import load_config, save_config
from agora.devnet import create, free_ports
from agora.node_home import HomeSpec, init_home

T = TypeVar("T")


class RpcFailure(Exception):
    """A JSON-RPC error answer: `code` (the number) and `data` (with the string code)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')} {error.get('data')}")
        self.code = error.get("code")
        self.data = error.get("data") or {}


def wait_until(
    cond: Callable[[], T | None],
    timeout: float,
    what: str | Callable[[], str],
    interval: float = 0.1,
) -> T:
    """Poll `cond` until it returns something truthy (which is returned); bounded.
    `what` may be a function, to describe the state at the moment of timing out."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {said}")
        time.sleep(interval)


def rpc_call(addr: str, method: str, params: Any = None, timeout: float = 5.0) -> Any:
    """One JSON-RPC call over HTTP POST; RpcFailure on an error answer."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    req = urllib.request.Request(
        f"http://{addr}/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        doc = json.loads(resp.read())
    if "error" in doc:
        raise RpcFailure(doc["error"])
    return doc["result"]


class NodeProc:
    def __init__(self, name: str, home: Path, p2p: str, rpc: str) -> None:
        self.name = name
        self.home = home
        self.p2p = p2p
        self.rpc = rpc
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert not self.alive, f"{self.name} is already running"
        log = open(self.home / "node.log", "ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agora", "node", "--home", str(self.home)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=lifeline.child_env(),  # gone with the test process, even if it crashes
            )
        finally:
            log.close()
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return proc.returncode

    def status(self) -> dict[str, Any] | None:
        try:
            doc = json.loads((self.home / "status.json").read_text())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def call(self, method: str, params: Any = None, timeout: float = 5.0) -> Any:
        return rpc_call(self.rpc, method, params, timeout)

    def try_call(self, method: str, params: Any = None, timeout: float = 2.0) -> Any:
        """`call`, or None if the node does not answer (down, starting)."""
        try:
            return self.call(method, params, timeout)
        except (OSError, urllib.error.URLError, RpcFailure, ValueError):
            return None

    def height(self) -> int:
        """The last committed height over RPC (-1 if it does not answer)."""
        st = self.try_call("chain_status")
        return int(st["height"]) if st else -1

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = (self.home / "node.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


class Devnet:
    """N validators (homes made like `agora devnet` makes them) plus optional full nodes."""

    def __init__(self, root: Path, validators: int = 4, *, block_interval_ms: int = 400) -> None:
        self.root = root
        self.block_interval_ms = block_interval_ms
        root.mkdir(parents=True, exist_ok=True)
        entries = create(root, validators, base_port=0)
        self.nodes = [NodeProc(e.name, Path(e.home), e.p2p, e.rpc) for e in entries]
        for n in self.nodes:
            self._tune(n.home)
        self.genesis = load_genesis(self.nodes[0].home / "genesis.json")
        self.chain_id = self.genesis.chain_id

    def _tune(self, home: Path) -> None:
        config = load_config(home / "config.toml")
        config.consensus.block_interval_ms = self.block_interval_ms
        config.p2p.pex_interval_s = 1.0
        save_config(config, home / "config.toml")

    def add_full_node(self, name: str = "full0") -> NodeProc:
        p2p, rpc = free_ports(2)
        spec = HomeSpec(
            name=name,
            p2p=f"127.0.0.1:{p2p}",
            rpc=f"127.0.0.1:{rpc}",
            bootstrap=[self.nodes[0].p2p],
            validator=False,
        )
        init_home(self.root / name, spec, genesis=self.genesis)
        self._tune(self.root / name)
        node = NodeProc(name, self.root / name, spec.p2p, spec.rpc)
        self.nodes.append(node)
        return node

    def start(self) -> None:
        for n in self.nodes:
            if not n.alive:
                n.start()

    def running(self) -> list[NodeProc]:
        return [n for n in self.nodes if n.alive]

    def heights(self, nodes: list[NodeProc] | None = None) -> dict[str, int]:
        return {n.name: n.height() for n in (nodes or self.running())}

    def wait_height(
        self, height: int, nodes: list[NodeProc] | None = None, timeout: float = 30.0
    ) -> None:
        """Every node given (default: the running ones) has committed `height`."""
        group = nodes or self.running()
        wait_until(
            lambda: all(n.height() >= height for n in group),
            timeout,
            lambda: f"height {height} on {[n.name for n in group]}\n{self.report(group)}",
            interval=0.2,
        )

    def report(self, nodes: list[NodeProc] | None = None) -> str:
        """Each node's state for a failure message: alive, heights, the end of its log."""
        out = []
        for n in nodes or self.nodes:
            st = n.status() or {}
            peers = len(st.get("peers", []))
            out.append(
                f"--- {n.name}: alive={n.alive} rpc_height={n.height()} status_height="
                f"{st.get('height')} consensus={st.get('consensus')} peers={peers}"
            )
            out.append(n.log_tail(8))
        return "\n".join(out)

    def block_ids(self, node: NodeProc, upto: int) -> dict[int, tuple[str, str]]:
        """Height -> (block id, state root in its header), over RPC."""
        out = {}
        for h in range(1, upto + 1):
            b = node.call("chain_getBlock", {"height": h})
            out[h] = (b["id"], b["header"]["state_root"])
        return out

    def __enter__(self) -> Devnet:
        return self

    def __exit__(self, *exc: object) -> None:
        for n in self.nodes:
            n.kill()


class Faucet:
    """Signs transfers from the devnet faucet (`dev_signing_key("faucet")`)."""

    def __init__(self, chain_id: str, nonce: int = 0) -> None:
        self.key = dev_signing_key(FAUCET_LABEL)
        self.chain_id = chain_id
        self.nonce = nonce

    @property
    def address(self) -> str:
        return bytes(self.key.verify_key).hex()

    def transfer(self, to: bytes, amount: int) -> tuple[str, str]:
        """(the tx as hex for `tx_submit`, its hash hex); the nonce moves on."""
        self.nonce += 1
        body = encode(Transfer(to, amount))
        tx = make_tx(self.key, self.chain_id, self.nonce, "transfer", body)
        return encode_tx(tx).hex(), tx_hash(tx).hex()


def pids_alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        out.append(pid)
    return out
