"""In-process peer_net nodes on 127.0.0.1 with real TCP, for the service tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from agora import runtime
from agora.peer_net.handlers import Owner
from agora.peer_net.identity import NodeKey
from agora.peer_net.messages import NetCommand, NetEvent
from agora.peer_net.peers import PeerLimits
from agora.peer_net.service import PeerNet
from agora.peer_net.settings import NetSettings
from agora.peer_net.testactor import TestActor
from agora.spsc import Receiver, Sender, channel

T = TypeVar("T")
NETWORK = "agora-svc-test"
FAST = NetSettings(
    dial_interval_s=0.2,
    pex_interval_s=0.5,
    handshake_timeout_s=3.0,
    request_timeout_s=2.0,
    limits=PeerLimits(max_inbound=16, max_outbound=8),
)


def arun(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    return runtime.run(coro, timeout=timeout)


async def until(pred: Callable[[], bool], seconds: float = 10.0, what: str = "") -> None:
    """Poll until `pred()` holds; bounded."""
    try:
        async with asyncio.timeout(seconds):
            while not pred():  # noqa: ASYNC110 - state changes in socket callbacks
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what or pred}") from None


class TNode:
    """A PeerNet and a TestActor, joined by two spsc channels, run in one TaskGroup."""

    def __init__(
        self,
        home: Path,
        *,
        key: NodeKey | None = None,
        network: str = NETWORK,
        bootstrap: tuple[str, ...] = (),
        settings: NetSettings = FAST,
        **actor_kw: Any,
    ) -> None:
        self.home = home
        self.key = key or NodeKey.generate()
        ev_tx: Sender[NetEvent]
        ev_rx: Receiver[NetEvent]
        ev_tx, ev_rx = channel(4096, NetEvent, "p2p->test")
        cmd_tx: Sender[NetCommand]
        cmd_rx: Receiver[NetCommand]
        cmd_tx, cmd_rx = channel(4096, NetCommand, "test->p2p")
        self.net = PeerNet(
            self.key,
            network,
            replace(settings, bootstrap=bootstrap),
            state_dir=home,
            events={Owner.TEST: ev_tx},
        )
        self.actor = TestActor(ev_rx, cmd_tx, **actor_kw)
        self._cmd_rx = cmd_rx
        self.task: asyncio.Task[None] | None = None

    @property
    def id(self) -> bytes:
        return self.key.node_id

    @property
    def addr(self) -> str:
        return self.net.external

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.net.run([(self._cmd_rx, "test")]))
            tg.create_task(self.actor.run())

    async def start(self) -> TNode:
        self.task = asyncio.create_task(self._run())
        await self.net.wait_started()
        return self

    async def stop(self) -> None:
        self.net.stop()
        if self.task is not None:
            async with asyncio.timeout(10):
                await self.task

    def peer_ids(self) -> set[bytes]:
        return set(self.net.conns)


@contextlib.asynccontextmanager
async def running(*nodes: TNode) -> AsyncIterator[tuple[TNode, ...]]:
    try:
        for n in nodes:
            await n.start()
        yield nodes
    finally:
        for n in nodes:
            await n.stop()


class Records(logging.Handler):
    """Structured log records, by event name."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.items: list[tuple[str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None)
        self.items.append((record.getMessage(), dict(fields) if isinstance(fields, dict) else {}))

    def find(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            f for e, f in self.items if e == event and all(f.get(k) == v for k, v in match.items())
        ]


@contextlib.contextmanager
def records() -> Any:
    h = Records()
    log = logging.getLogger("agora")
    old = log.level
    log.addHandler(h)
    log.setLevel(logging.DEBUG)
    try:
        yield h
    finally:
        log.removeHandler(h)
        log.setLevel(old)
