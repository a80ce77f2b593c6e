"""The node process: its actors and the spsc channels between them, run together.

    Node(home).run()          # until SIGTERM / SIGINT, then a clean stop

`Node` is only an assembly: each actor has `name`, `async run()` and `stop()`,
all run in one TaskGroup on one event loop (`agora.runtime.run`), and a signal
stops them all. Adding an actor (consensus, blockchain, rpc) means making
its channels, giving the ends to the actors that use them, and appending it
to `actors` (and its `status()` to the status providers).

Now: peer_net and the test actor (TEST_* codes), plus the status writer that
keeps `status.json` fresh for `agora devnet`.
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

from agora import runtime
from agora.config import write_atomic
from agora.logs import Log
from agora.node_home import load_home
from agora.peer_net.handlers import Owner
from agora.peer_net.messages import NetCommand, NetEvent
from agora.peer_net.service import PeerNet
from agora.peer_net.settings import NetSettings
from agora.peer_net.testactor import TestActor
from agora.spsc import Receiver, Sender, channel

CHANNEL_CAPACITY = 4096
STATUS_INTERVAL_S = 1.0
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
        write_atomic(self.path, msgspec.json.encode(self.snapshot()))

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


class Node:
    def __init__(self, root: Path | str) -> None:
        self.home, self.config, self.genesis, self.key = load_home(Path(root))
        # channels: one per (producer, consumer) pair
        test_events: tuple[Sender[NetEvent], Receiver[NetEvent]]
        test_events = channel(CHANNEL_CAPACITY, NetEvent, "peer_net->test")
        test_commands: tuple[Sender[NetCommand], Receiver[NetCommand]]
        test_commands = channel(CHANNEL_CAPACITY, NetCommand, "test->peer_net")
        # actors
        self.net = PeerNet(
            self.key,
            self.genesis.chain_id,
            NetSettings.from_config(self.config.p2p),
            state_dir=self.home.p2p,
            events={Owner.TEST: test_events[0]},
        )
        self.test = TestActor(test_events[1], test_commands[0])
        self.status = StatusWriter(
            self.home.status, [self._identity, self.net.status, self.test.status]
        )
        self.actors: list[Actor] = [
            NetActor(self.net, [(test_commands[1], "test")]),
            self.test,
            self.status,
        ]

    def _identity(self) -> dict[str, Any]:
        return {
            "name": self.config.node.name,
            "node_id": self.key.hex,
            "pid": os.getpid(),
            "rpc": self.config.rpc.listen,
            "network": self.genesis.chain_id,
            "height": 0,
        }

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        _log.info("node_starting", name=self.config.node.name, node_id=self.key.hex)
        try:
            async with asyncio.TaskGroup() as tg:
                for actor in self.actors:
                    tg.create_task(actor.run(), name=actor.name)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            _log.info("node_stopped", name=self.config.node.name)

    def stop(self) -> None:
        _log.info("node_stopping", name=self.config.node.name)
        for actor in reversed(self.actors):
            actor.stop()


def run_node(root: Path | str) -> None:
    runtime.run(Node(root).run())
