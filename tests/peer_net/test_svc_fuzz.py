"""Random bytes at a live node's P2P port, before and after a real handshake."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from svc_util import NETWORK, TNode, records

from agora import PROTOCOL_VERSION, runtime
from agora.errors import RemoteError
from agora.peer_net.codes import PacketCode
from agora.peer_net.connection import Connection, Event, HandshakeComplete, PacketReceived
from agora.peer_net.identity import NodeKey


class LiveNode:
    """A TNode on its own thread and loop, so the test can use blocking sockets."""

    def __init__(self, home: Path) -> None:
        self.node = TNode(home)
        self.addr = ("", 0)
        self.thread = runtime.ActorThread(self._main, "fuzzed-node")

    async def _main(self) -> None:
        await self.node.start()
        host, _, port = self.node.addr.rpartition(":")
        self.addr = (host, int(port))
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            await self.node.stop()

    def __enter__(self) -> LiveNode:
        self.thread.start()
        for _ in range(1000):
            if self.addr[1]:
                return self
            time.sleep(0.01)
        raise AssertionError("the node did not start")

    def __exit__(self, *exc: object) -> None:
        self.thread.cancel()
        try:
            self.thread.join(15)
        except asyncio.CancelledError:
            pass


def _exchange(
    conn: Connection, sock: socket.socket, done: Callable[[list[Event]], bool]
) -> list[Event]:
    """Pump one Connection over a blocking socket until `done(events)` or a close."""
    events: list[Event] = []
    sock.sendall(conn.data_to_send())
    while not done(events):
        try:
            data = sock.recv(65536)
        except (TimeoutError, ConnectionError):
            return events
        if not data:
            return events
        try:
            events += conn.receive_data(data)
        except RemoteError:
            return events
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    return events


def _ready(events: list[Event]) -> bool:
    return any(isinstance(e, HandshakeComplete) for e in events)


def _pong(events: list[Event]) -> bool:
    return any(isinstance(e, PacketReceived) and e.header.code == PacketCode.PONG for e in events)


def _send(addr: tuple[str, int], data: bytes, handshake_first: bool) -> None:
    with socket.create_connection(addr, timeout=3) as sock:
        if handshake_first:
            conn = Connection("initiator", NodeKey.generate(), NETWORK, PROTOCOL_VERSION, "")
            conn.start()
            _exchange(conn, sock, _ready)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(3)
            while sock.recv(65536):  # the node closes its side: bounded by its timeouts
                pass
        except (TimeoutError, ConnectionError):
            pass


def _still_serving(addr: tuple[str, int]) -> bool:
    """A fresh, honest peer gets through the handshake and a PING gets its PONG."""
    with socket.create_connection(addr, timeout=5) as sock:
        conn = Connection("initiator", NodeKey.generate(), NETWORK, PROTOCOL_VERSION, "")
        conn.start()
        if not _ready(_exchange(conn, sock, _ready)):
            return False
        conn.send_packet(PacketCode.PING, b"12345678", msg_id=1, response_handler=True)
        return _pong(_exchange(conn, sock, _pong))


def test_random_bytes_never_stop_the_node(tmp_path: Path) -> None:
    with records() as log, LiveNode(tmp_path / "n") as live:

        @settings(
            max_examples=80,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(data=st.binary(min_size=1, max_size=2048), handshake_first=st.booleans())
        def fuzz(data: bytes, handshake_first: bool) -> None:
            _send(live.addr, data, handshake_first)

        fuzz()
        assert _still_serving(live.addr)
    assert not log.find("internal_error"), log.find("internal_error")
    assert log.find("peer_misbehaved")  # the garbage was noticed, not ignored
