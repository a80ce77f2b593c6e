"""The node process: its actors and the spsc channels between them, run together.

    Node(home).run()          # until SIGTERM / SIGINT, then a clean stop

`Node` is only an assembly: each actor has `name`, `async run()` and `stop()`,
and all run in one TaskGroup. One channel per (producer, consumer) pair:

    peer_net  -> consensus   NetEvent       consensus  -> peer_net    NetCommand
    peer_net  -> blockchain  NetEvent       blockchain -> peer_net    NetCommand
    peer_net  -> test        NetEvent       test       -> peer_net    NetCommand
    consensus -> blockchain  ChainRequest   blockchain -> consensus   ChainReply
    rpc       -> blockchain  RpcSubmit      blockchain -> rpc         Publish | Answer

The blockchain actor (the SQLite writer) runs on its own thread and loop, so
executing a block never stalls the others; peer_net, consensus, rpc, the test
actor and the status writer share the main loop. A signal stops them in
stages: consensus first (nothing half-signed: the WAL is fsynced before any
vote leaves), then the chain (SQLite closed cleanly), then the rest.
See docs/node.md.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import msgspec
import nacl.signing

from agora import runtime
from agora.blockchain.actor import BlockchainActor
from agora.blockchain.chain import Chain
from agora.blockchain.genesis import MAX_BLOCK_BYTES
from agora.blockchain.messages import ChainReply, ChainRequest, RpcSubmit
from agora.blockchain.reader import Reader
from agora.consensus_client.actor import ConsensusActor, ConsensusSetup
from agora.consensus_client.progress import SyncProgress
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.wal import FileWal, MemoryWal, Wal
from agora.errors import LocalError
from agora.home_lock import HomeLock
from agora.logs import Log
from agora.node_home import load_home
from agora.node_rpc import RpcActor, block_publisher, make_rpc, rpc_config
from agora.node_thread import ThreadedActor
from agora.peer_net.handlers import Owner
from agora.peer_net.header import DEFAULT_MAX_FRAME
from agora.peer_net.identity import NodeKey
from agora.peer_net.messages import NetCommand, NetEvent
from agora.peer_net.service import PeerNet
from agora.peer_net.settings import NetSettings
from agora.peer_net.testactor import TestActor
from agora.rpc.messages import RpcInbound
from agora.rpc.metrics import Metrics
from agora.social.module import SocialModule
from agora.social.service import SocialReader
from agora.spsc import Receiver, Sender, channel

CHANNEL_CAPACITY = 4096
STATUS_INTERVAL_S = 1.0
STOP_STAGE_TIMEOUT_S = 15.0
# Room in a frame beyond the block: a PROPOSAL's fields, or a BLOCKS_RESPONSE's commit.
FRAME_RESERVE = DEFAULT_MAX_FRAME - MAX_BLOCK_BYTES
_log = Log("agora.node")

Status = Callable[[], dict[str, Any]]


class Actor(Protocol):
    name: str

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class NetActor:
    """peer_net as an actor: its inbound command channels are the server's `froms`."""

    name = "peer_net"

    def __init__(self, net: PeerNet, froms: Sequence[tuple[Receiver[NetCommand], str]]) -> None:
        self.net = net
        self.froms = list(froms)

    async def run(self) -> None:
        await self.net.run(self.froms)

    def stop(self) -> None:
        self.net.stop()


class StatusWriter:
    """Writes `status.json` (atomically) about every second, merged from the providers."""

    name = "status"

    def __init__(
        self, path: Path, providers: Sequence[Status], interval: float = STATUS_INTERVAL_S
    ) -> None:
        self.path = path
        self.providers = list(providers)
        self.interval = interval
        self._stop = asyncio.Event()

    def snapshot(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for provide in self.providers:
            doc.update(provide())
        doc["updated"] = round(time.time(), 3)
        return doc

    def write(self) -> None:
        replace_file(self.path, msgspec.json.encode(self.snapshot()))

    async def run(self) -> None:
        while not self._stop.is_set():
            self.write()
            try:
                async with asyncio.timeout(self.interval):
                    await self._stop.wait()
            except TimeoutError:
                pass
        self.write()  # the last word: no peers, stopping

    def stop(self) -> None:
        self._stop.set()


def replace_file(path: Path, data: bytes) -> None:
    """Readers see the old or the new content (a rename), but nothing is fsynced: a
    report rewritten every second need not survive a power cut, and two fsyncs a
    second on the main loop would stall peer_net, consensus and RPC behind the disk."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pair(item_type: Any, name: str) -> tuple[Sender[Any], Receiver[Any]]:
    return channel(CHANNEL_CAPACITY, item_type, name)


def load_validator_key(path: Path) -> nacl.signing.SigningKey:
    NodeKey.load(path)  # the same checks and errors as the node key
    return nacl.signing.SigningKey(bytes.fromhex(path.read_text().strip()))


class Node:
    def __init__(self, root: Path | str) -> None:
        self.home, self.config, self.genesis, self.key = load_home(Path(root))
        self.lock = HomeLock.acquire(self.home.root)  # before any file of the home is opened
        try:
            self._open()
        except BaseException:
            self.lock.release()
            raise

    def _open(self) -> None:
        home, genesis = self.home, self.genesis
        self.validator_key = self._validator_key()
        self._check_frame()
        self.metrics = Metrics()
        self._stopping = asyncio.Event()
        db = home.chain_db
        self.chain = Chain.open(db, genesis, modules=[SocialModule()])
        try:
            self._assemble(db)
        except BaseException:
            self.chain.close()
            raise

    def _validator_key(self) -> nacl.signing.SigningKey | None:
        if not self.config.consensus.validator:
            return None
        path = self.home.validator_key
        if not path.exists():
            raise LocalError(f"no validator key in {self.home.root}", code="no_validator_key")
        key = load_validator_key(path)
        if bytes(key.verify_key) not in self.genesis.valset():
            # Its votes would be refused (and cost us with every peer): follow instead.
            _log.warning("not_in_validator_set", key=bytes(key.verify_key).hex()[:16])
            return None
        return key

    def _check_frame(self) -> None:
        """A block travels whole in one frame: a smaller `p2p.max_frame` than the chain's
        blocks need would make this node ban every peer that sends a full one."""
        need = self.genesis.params.max_block_bytes + FRAME_RESERVE
        if self.config.p2p.max_frame < need:
            raise LocalError(
                f"p2p.max_frame {self.config.p2p.max_frame} is too small for this chain's "
                f"blocks (max_block_bytes {self.genesis.params.max_block_bytes}): at least {need}",
                code="bad_config",
            )

    def _assemble(self, db: Path) -> None:
        cfg, genesis, chain = self.config, self.genesis, self.chain
        # channels: one per (producer, consumer) pair
        test_ev, test_cmd = _pair(NetEvent, "peer_net->test"), _pair(NetCommand, "test->peer_net")
        cons_ev = _pair(NetEvent, "peer_net->consensus")
        cons_cmd = _pair(NetCommand, "consensus->peer_net")
        chain_ev = _pair(NetEvent, "peer_net->blockchain")
        chain_cmd = _pair(NetCommand, "blockchain->peer_net")
        requests = _pair(ChainRequest, "consensus->blockchain")
        replies = _pair(ChainReply, "blockchain->consensus")
        submits = _pair(RpcSubmit, "rpc->blockchain")
        to_rpc = _pair(RpcInbound, "blockchain->rpc")
        # actors
        self.net = PeerNet(
            self.key,
            genesis.chain_id,
            NetSettings.from_config(cfg.p2p),
            state_dir=self.home.p2p,
            events={
                Owner.TEST: test_ev[0],
                Owner.CONSENSUS: cons_ev[0],
                Owner.BLOCKCHAIN: chain_ev[0],
            },
        )
        self.test = TestActor(test_ev[1], test_cmd[0])
        rpc_on = cfg.rpc.enabled
        publish = block_publisher(to_rpc[0]) if rpc_on else None
        self.blockchain = BlockchainActor(
            chain,
            db,
            requests=requests[1],
            replies=replies[0],
            net_events=chain_ev[1],
            net_commands=chain_cmd[0],
            rpc_requests=submits[1] if rpc_on else None,
            rpc_inbox=to_rpc[0] if rpc_on else None,
            publish=publish,
            metrics=self.metrics,
        )
        self.consensus = ConsensusActor(
            ConsensusSetup(
                genesis.chain_id,
                genesis.valset(),
                self.validator_key,
                ConsensusParams(block_interval_ms=cfg.consensus.block_interval_ms),
                self._wal(),
                chain.height,
                genesis.params.max_block_bytes,
                progress=SyncProgress(),
                metrics=self.metrics,
            ),
            events=cons_ev[1],
            replies=replies[1],
            to_net=cons_cmd[0],
            to_chain=requests[0],
        )
        commands = [(test_cmd[1], "test"), (cons_cmd[1], "consensus"), (chain_cmd[1], "blockchain")]
        chain_actor = ThreadedActor(self.blockchain)
        self.rpc: RpcActor | None = None
        rest: list[Actor] = [NetActor(self.net, commands), self.test]
        if rpc_on:
            self.rpc = self._rpc(db, submits[0], to_rpc[1])
            rest.append(self.rpc)
        self.status = StatusWriter(
            self.home.status,
            [
                self._identity,
                self.net.status,
                self.test.status,
                self.blockchain.status,
                self.consensus.status,
            ],
        )
        rest.append(self.status)
        # stopped in this order, each stage waited for
        self.stages: list[list[Actor]] = [[self.consensus], [chain_actor], rest]
        self.actors: list[Actor] = [a for stage in self.stages for a in stage]

    def _wal(self) -> Wal:
        if self.validator_key is None:
            return MemoryWal()  # a full node signs nothing
        return FileWal(self.home.consensus_wal)

    def _rpc(self, db: Path, submits: Sender[RpcSubmit], inbox: Receiver[RpcInbound]) -> RpcActor:
        reader = Reader(db)
        social = SocialReader.open(db, self.genesis)
        valset = self.genesis.valset()
        solo = self.validator_key is not None and len(valset) == 1
        server = make_rpc(
            rpc_config(self.config.rpc),
            self.genesis,
            self.chain,
            reader,
            social,
            chain_inbox=submits,
            net_status=self.net.status,
            node_info=self._identity,
            peers=lambda: len(self.net.conns),
            solo=solo,
            catching_up=lambda: self.consensus.mode.value != "running",
            metrics=self.metrics,
        )
        return RpcActor(server, [(inbox, "chain")])

    def _identity(self) -> dict[str, Any]:
        rpc = self.config.rpc.listen if self.config.rpc.enabled else ""
        addr = self.rpc.server.addr if self.rpc is not None else None
        if addr is not None:
            host, port = addr[:2]
            rpc = f"{host}:{port}"
        return {
            "name": self.config.node.name,
            "node_id": self.key.hex,
            "pid": os.getpid(),
            "rpc": rpc,
            "network": self.genesis.chain_id,
        }

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        _log.info("node_starting", name=self.config.node.name, node_id=self.key.hex)
        runtime.tune_gc()
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = {id(a): tg.create_task(a.run(), name=a.name) for a in self.actors}
                tg.create_task(self._shutdown(tasks), name="shutdown")
        except BaseExceptionGroup as eg:
            leaves = _leaves(eg)
            if len(leaves) == 1:  # say, the P2P port is taken: one clear error
                raise leaves[0] from None
            raise
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            self.lock.release()
            _log.info("node_stopped", name=self.config.node.name)

    async def _shutdown(self, tasks: dict[int, asyncio.Task[None]]) -> None:
        await self._stopping.wait()
        _log.info("node_stopping", name=self.config.node.name)
        for stage in self.stages:
            for actor in stage:
                actor.stop()
            pending = [tasks[id(a)] for a in stage]
            await asyncio.wait(pending, timeout=STOP_STAGE_TIMEOUT_S)

    def stop(self) -> None:
        self._stopping.set()


def _leaves(eg: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for e in eg.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


def run_node(root: Path | str) -> None:
    runtime.run(Node(root).run())
