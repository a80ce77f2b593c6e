"""The benchmark's two actors, the PeerNet pair they talk through, and handshake clients.

`Sender` is the actor on one side: it puts commands on its channel to its
peer_net and takes `Response` events back. `Receiver` is the actor on the
other side: it counts `Inbound` announcements (TEST_DIRECT or TEST_GOSSIP),
answers `TEST_REQUEST`, counts `PeerUp`. The sender keeps at most a window of packets ahead of the
receiver's count, as a flow-controlled actor would; the baseline's streams
are flow-controlled by `drain()` the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import typing
from collections.abc import AsyncIterator
from dataclasses import replace

from agora import PROTOCOL_VERSION, spsc
from agora.peer_net.connection import Connection, HandshakeComplete
from agora.peer_net.handlers import AppCode, Owner
from agora.peer_net.identity import NodeKey
from agora.peer_net.messages import (
    Inbound,
    NetCommand,
    NetEvent,
    PeerUp,
    Request,
    Respond,
    Response,
    SendTo,
)
from agora.peer_net.peers import PeerLimits
from agora.peer_net.service import PeerNet
from agora.peer_net.settings import NetSettings
from agora.spsc import EndOfChannel, WouldBlock

NETWORK = "agora-bench"
CHANNEL = 1024
SETTINGS = NetSettings(
    limits=PeerLimits(max_inbound=64, max_outbound=4),
    rate_overrides=dict.fromkeys(  # measure, not limit
        (AppCode.TEST_DIRECT, AppCode.TEST_GOSSIP, AppCode.TEST_REQUEST)
    ),
    ping_interval_s=60.0,
    pex_interval_s=60.0,
)
_REQ, _RESP = AppCode.TEST_REQUEST, AppCode.TEST_RESPONSE


class Receiver:
    def __init__(self, events: spsc.Receiver[NetEvent], commands: spsc.Sender[NetCommand]) -> None:
        self.events = events
        self.commands = commands
        self.count = 0  # announcements received (TEST_DIRECT or TEST_GOSSIP)
        self.ups = 0  # peers that completed a handshake with us
        self._want = 0
        self._reached = asyncio.Event()

    def reset(self) -> None:
        self.count = self._want = 0

    async def run(self) -> None:
        rx, tx = self.events, self.commands
        try:
            while True:
                for ev in await rx.receive_many(CHANNEL):
                    if type(ev) is Inbound:
                        if ev.is_request:
                            await tx.send(Respond(ev.peer_id, ev.msg_id, _RESP, ev.body))
                        else:
                            self.count += 1
                    elif type(ev) is PeerUp:
                        self.ups += 1
                if self.count >= self._want:
                    self._reached.set()
        except EndOfChannel:
            pass

    async def wait_count(self, n: int) -> None:
        while self.count < n:
            self._want = n
            self._reached.clear()
            await self._reached.wait()


class Sender:
    def __init__(
        self,
        commands: spsc.Sender[NetCommand],
        events: spsc.Receiver[NetEvent],
        peer_id: bytes,
    ) -> None:
        self.commands = commands
        self.events = events
        self.peer_id = peer_id
        self._answers: dict[int, asyncio.Future[None]] = {}

    async def run(self) -> None:
        try:
            async for ev in self.events:
                if type(ev) is Response:
                    fut = self._answers.pop(ev.req_id, None)
                    if fut is not None:
                        fut.set_result(None)
        except spsc.ChannelClosed:
            pass

    async def send_all(
        self, code: int, bodies: list[bytes], receiver: Receiver, window: int
    ) -> None:
        """One `SendTo(code)` a body, as fast as the window lets."""
        tx, pid = self.commands, self.peer_id
        for i, body in enumerate(bodies):
            if i - receiver.count >= window:
                await receiver.wait_count(i - window // 2)
            cmd = SendTo(pid, code, body)
            try:
                tx.send_nowait(cmd)
            except WouldBlock:
                await tx.send(cmd)

    async def round_trips(self, n: int, body: bytes = bytes(16)) -> list[float]:
        """Request/response times through both peer_nets and both actors, one at a time."""
        loop = asyncio.get_running_loop()
        out = []
        for req_id in range(1, n + 1):
            fut = self._answers[req_id] = loop.create_future()
            t = time.perf_counter()
            await self.commands.send(Request(req_id, self.peer_id, _REQ, body, 5.0))
            await fut
            out.append(time.perf_counter() - t)
        return out


Side = tuple[PeerNet, spsc.Receiver[NetEvent], spsc.Sender[NetCommand], spsc.Receiver[NetCommand]]


def _side(settings: NetSettings) -> Side:
    ev_tx: spsc.Sender[NetEvent]
    ev_rx: spsc.Receiver[NetEvent]
    ev_tx, ev_rx = spsc.channel(CHANNEL, NetEvent, "bench-events")
    cmd_tx: spsc.Sender[NetCommand]
    cmd_rx: spsc.Receiver[NetCommand]
    cmd_tx, cmd_rx = spsc.channel(CHANNEL, NetCommand, "bench-commands")
    net = PeerNet(NodeKey.generate(), NETWORK, settings, events={Owner.TEST: ev_tx})
    return net, ev_rx, cmd_tx, cmd_rx


@contextlib.asynccontextmanager
async def start_pair() -> AsyncIterator[tuple[PeerNet, PeerNet, Sender, Receiver]]:
    """Two connected PeerNets (a dials b) with the sending actor on a, the receiving on b."""
    b, b_ev, b_cmd, b_cmd_rx = _side(SETTINGS)
    receiver = Receiver(b_ev, b_cmd)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(b.run([(b_cmd_rx, "bench")]))
        tg.create_task(receiver.run())
        await b.wait_started()
        a, a_ev, a_cmd, a_cmd_rx = _side(replace(SETTINGS, bootstrap=(b.external,)))
        sender = Sender(a_cmd, a_ev, b.key.node_id)
        tg.create_task(a.run([(a_cmd_rx, "bench")]))
        tg.create_task(sender.run())
        try:
            async with asyncio.timeout(10):
                while b.key.node_id not in a.conns or a.key.node_id not in b.conns:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            yield a, b, sender, receiver
        finally:
            a.stop()
            b.stop()


class _Client(asyncio.Protocol):
    """A bare initiator: handshake, then hang up."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.conn = Connection("initiator", NodeKey.generate(), NETWORK, PROTOCOL_VERSION, "")
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.conn.start()
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        events = self.conn.receive_data(data)
        self.transport.write(self.conn.data_to_send())
        if any(isinstance(e, HandshakeComplete) for e in events):
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed before the handshake: {exc}"))


async def handshake_clients(
    server: PeerNet, receiver: Receiver, count: int, concurrency: int
) -> float:
    """Seconds for `count` fresh clients to complete handshakes that `server` accepts."""
    loop = asyncio.get_running_loop()
    host, port = server.settings.listen[0], int(server.external.rpartition(":")[2])
    gate = asyncio.Semaphore(concurrency)
    start_ups = receiver.ups

    async def one() -> None:
        async with gate:
            done: asyncio.Future[None] = loop.create_future()
            await loop.create_connection(lambda: _Client(done), host, port)
            await done

    t = time.perf_counter()
    async with asyncio.timeout(60), asyncio.TaskGroup() as tg:
        for _ in range(count):
            tg.create_task(one())
    async with asyncio.timeout(10):
        while receiver.ups - start_ups < count:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    return time.perf_counter() - t
