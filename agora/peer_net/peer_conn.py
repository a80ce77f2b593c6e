"""The generic server's Handler for one peer connection: a sans-IO `Connection` on a socket.

It feeds the socket's bytes to the `Connection` and hands the events to the
service; it writes what the `Connection` queued, once per batch (the service
calls `flush` from one `call_soon` after a burst of sends). While the socket's
write buffer is over its high mark, packets wait in the `Connection`'s own
bounded queue, and a send that does not fit there is refused.

A RemoteError from the wire leaves a DISCONNECT queued that says why: it is
written out before the error goes up to the server, which reports it to the
service's `handle_errored` and closes this link alone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agora.errors import RemoteError
from agora.peer_net.connection import Connection, Disconnected, State
from agora.peer_net.header import HEADER_SIZE
from agora.peer_net.identity import PeerInfo
from agora.server import Link, Timer

if TYPE_CHECKING:
    from agora.peer_net.service import PeerNet

_READY = State.READY


class PeerConn:
    __slots__ = (
        "conn",
        "dirty",
        "done",
        "info",
        "link",
        "net",
        "peer_id",
        "pending_in",
        "read_paused",
        "rtt",
        "since",
        "timer",
        "write_paused",
    )

    def __init__(self, net: PeerNet, link: Link, conn: Connection) -> None:
        self.net = net
        self.link = link
        self.conn = conn
        self.peer_id: bytes | None = None  # set once the peer is in the peer set
        self.info: PeerInfo | None = None  # who it proved to be in the handshake
        self.since = 0.0
        self.dirty = False  # has queued bytes waiting for the batch flush
        self.write_paused = False
        self.read_paused = False
        self.pending_in = link.inbound  # counts against the inbound handshake limit
        self.rtt: float | None = None  # seconds, from the last PONG
        self.timer: Timer | None = None
        # "" once the peer is in the peer set, else why it never got there
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    # --- the Handler protocol ---

    def connection_made(self, link: Link) -> None:
        self.link = link
        self.net.attach(self)
        self.conn.start()
        self.flush()
        self.timer = self.net.server.call_later(
            self.net.settings.handshake_timeout_s, self._handshake_timeout
        )

    def data_received(self, data: bytes) -> None:
        self.net.bytes_in += len(data)
        try:
            events = self.conn.receive_data(data)
        except RemoteError:
            self.flush(force=True)  # the DISCONNECT saying why
            raise
        if events:
            self.net.on_events(self, events)
        if not self.dirty and self.conn.outgoing_size:  # handshake replies, DISCONNECT
            self.dirty = True
            self.net.mark_dirty(self)

    def eof_received(self) -> None:
        for ev in self.conn.receive_eof():  # frame_truncated if a frame was cut off
            if isinstance(ev, Disconnected):
                self.link.close(ev.code)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.cancel_timer()
        self.net.detach(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.flush()

    # --- used by the service ---

    @property
    def ready(self) -> bool:
        return self.peer_id is not None and self.conn.state is _READY

    def can_send(self, size: int) -> bool:
        conn = self.conn
        return (
            conn.state is _READY
            and conn.outgoing_size + size + HEADER_SIZE <= self.net.settings.out_budget
        )

    def send(
        self,
        code: int,
        body: bytes,
        msg_id: int = 0,
        response_handler: bool = False,
        is_response: bool = False,
    ) -> bool:
        """Encrypt and queue one packet for the next flush; False if it was refused."""
        conn = self.conn
        if conn.state is not _READY or not conn.send_packet(
            code, body, msg_id=msg_id, response_handler=response_handler, is_response=is_response
        ):
            return False
        if not self.dirty:
            self.dirty = True
            self.net.mark_dirty(self)
        return True

    def flush(self, *, force: bool = False) -> None:
        """Write what the Connection queued, unless the socket asked us to wait."""
        self.dirty = False
        if self.write_paused and not force:
            return
        data = self.conn.data_to_send()
        if data:
            self.net.bytes_out += len(data)
            self.link.write(data)

    def close(self, code: str, message: str = "") -> None:
        """Tell the peer why (once the handshake is done), then close the socket."""
        self.conn.close(code, message)
        self.flush(force=True)
        self.link.close(code)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _handshake_timeout(self) -> None:
        self.timer = None
        if self.peer_id is None and not self.link.closing:
            self.net.handshake_timed_out(self)

    def __repr__(self) -> str:
        who = self.peer_id.hex()[:8] if self.peer_id else "?"
        return f"<PeerConn {who} {self.link!r}>"
