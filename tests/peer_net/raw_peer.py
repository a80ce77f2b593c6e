"""A hand-driven peer over a real socket: a sans-IO Connection we can make misbehave."""

from __future__ import annotations

import asyncio

from agora import PROTOCOL_VERSION
from agora.errors import RemoteError
from agora.peer_net.connection import Connection, Disconnected, Event, HandshakeComplete
from agora.peer_net.identity import NodeKey
from agora.peer_net.outgoing import Chunk


class RawPeer:
    def __init__(self, key: NodeKey | None = None, network: str = "agora-svc-test") -> None:
        self.key = key or NodeKey.generate()
        self.conn = Connection("initiator", self.key, network, PROTOCOL_VERSION, "")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.events: list[Event] = []
        self.error: RemoteError | None = None

    @property
    def id(self) -> bytes:
        return self.key.node_id

    async def open(self, addr: str) -> RawPeer:
        host, _, port = addr.rpartition(":")
        self.reader, self.writer = await asyncio.open_connection(host, int(port))
        return self

    async def handshake(self, addr: str, seconds: float = 5.0) -> RawPeer:
        await self.open(addr)
        self.conn.start()
        self.write(self.conn.data_to_send())
        async with asyncio.timeout(seconds):
            while not any(isinstance(e, HandshakeComplete) for e in self.events):
                if not await self._read_some():
                    raise AssertionError(f"closed during the handshake: {self.events}")
        return self

    def write(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.write(data)

    def seal(self, code: int, body: bytes, flags: int = 0, msg_id: int = 0) -> bytes:
        """One frame, sealed with the next nonce, not queued."""
        session = self.conn.session
        assert session is not None
        parts: list[Chunk] = []
        session.seal(code, flags, msg_id, body, parts)
        return b"".join(bytes(p) for p in parts)

    async def _read_some(self) -> bool:
        assert self.reader is not None
        data = await self.reader.read(65536)
        if not data:
            return False
        if self.error is None:
            try:
                self.events += self.conn.receive_data(data)
            except RemoteError as e:
                self.error = e
        if self.conn.state.value != "closed":
            self.flush()
        return True

    async def closed_by_node(self, seconds: float = 5.0) -> bool:
        """Read until the node closes the socket; False if it is still open after `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                while await self._read_some():
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    def goodbye(self) -> Disconnected | None:
        """The DISCONNECT the node sent, if one arrived."""
        for e in self.events:
            if isinstance(e, Disconnected) and e.by_peer:
                return e
        return None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
