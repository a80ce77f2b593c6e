"""One peer connection as a sans-IO state machine: bytes in, events and bytes out.

    NEW --start--> INIT --established--> READY
     |              |                      |
     +----close-----+--------close---------+--> CLOSED --reset--> NEW

Any other transition raises LocalError `bad_transition`. Bad input from the
peer raises RemoteError with a specific code and penalty (violations.py); the
connection is CLOSED after it and, once the session keys exist, has queued a
DISCONNECT saying why, so the caller flushes `data_to_send()` and closes the
socket. A refusal (another network or version, ourselves) is such an error
with penalty 0. A DISCONNECT from the peer is a `Disconnected` event.

Sending only queues a packet; `data_to_send()` seals what is queued, and
packets queued together go out as BATCH frames (batch.py): one AEAD call and
one header for many small packets. A lone packet is a frame of its own. A
received BATCH becomes one `PacketReceived` per packet, in order, each with
the batch frame's nonce and tag.
"""

from __future__ import annotations

from collections.abc import Container
from enum import Enum
from typing import Literal, NoReturn

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agora.errors import LocalError, RemoteError
from agora.peer_net import batch
from agora.peer_net.codes import PacketCode
from agora.peer_net.crypto_session import NONCE_LIMIT, CryptoSession
from agora.peer_net.events import Disconnected, Event, HandshakeComplete, PacketReceived
from agora.peer_net.header import (
    DEFAULT_MAX_FRAME,
    HEADER_SIZE,
    IS_RESPONSE,
    MAX_CODE,
    MAX_MSG_ID,
    RESPONSE_HANDLER,
)
from agora.peer_net.identity import NodeKey, PeerInfo
from agora.peer_net.incoming import HANDSHAKE_LENGTH, Incoming
from agora.peer_net.negotiation import Handshake, decode_disconnect, encode_disconnect, refusal
from agora.peer_net.outgoing import Outgoing
from agora.peer_net.violations import violation

__all__ = [  # the events live in events.py; importing them from here still works
    "Connection",
    "Disconnected",
    "Event",
    "HandshakeComplete",
    "PacketReceived",
    "State",
]

_DISCONNECT = int(PacketCode.DISCONNECT)
_BATCH = int(PacketCode.BATCH)


class State(Enum):
    NEW = "new"
    INIT = "init"
    READY = "ready"
    CLOSED = "closed"


TRANSITIONS: dict[tuple[State, str], State] = {
    (State.NEW, "start"): State.INIT,
    (State.INIT, "established"): State.READY,
    (State.NEW, "close"): State.CLOSED,
    (State.INIT, "close"): State.CLOSED,
    (State.READY, "close"): State.CLOSED,
    (State.CLOSED, "reset"): State.NEW,
}


_NEW, _INIT, _READY, _CLOSED = State.NEW, State.INIT, State.READY, State.CLOSED  # hot paths
_LAST_NONCE = NONCE_LIMIT - 1


class Connection:
    """One side of one peer connection; the asyncio service owns the socket.

    `accept_versions` is which peer protocol versions we keep (default: our own).
    """

    def __init__(
        self,
        role: Literal["initiator", "responder"],
        key: NodeKey,
        network: str,
        version: int,
        listen: str,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        in_budget: int | None = None,
        out_budget: int | None = None,
        static_key: X25519PrivateKey | None = None,
        accept_versions: Container[int] | None = None,
    ) -> None:
        if role not in ("initiator", "responder"):
            raise LocalError(f"role must be initiator or responder, not {role!r}", code="bad_role")
        frame = max_frame + HEADER_SIZE
        out_budget = 2 * frame if out_budget is None else out_budget
        if out_budget < frame:
            raise LocalError("outgoing budget is smaller than one frame", code="bad_config")
        self.role = role
        self.key = key
        self.network = network
        self.version = version
        self.listen = listen
        # Who we accept: the same version only, until a version says otherwise.
        self.accept_versions: Container[int] = (
            frozenset({version}) if accept_versions is None else accept_versions
        )
        self.max_frame = max_frame
        self._static = static_key if static_key is not None else X25519PrivateKey.generate()
        self._incoming = Incoming(
            max_frame=max_frame, budget=2 * frame if in_budget is None else in_budget
        )
        self._outgoing = Outgoing(out_budget, min(batch.TARGET_BYTES, max_frame))
        self._state = State.NEW
        self._handshake: Handshake | None = None
        self._session: CryptoSession | None = None
        self.peer: PeerInfo | None = None

    # --- state ---

    @property
    def state(self) -> State:
        return self._state

    def _advance(self, trigger: str) -> None:
        new = TRANSITIONS.get((self._state, trigger))
        if new is None:
            raise LocalError(
                f"cannot {trigger} in state {self._state.value}", code="bad_transition"
            )
        self._state = new

    @property
    def wants_read(self) -> bool:
        """False while the peer's unread backlog is over budget, and once closed."""
        return (self._state is _READY or self._state is _INIT) and not self._incoming.over_budget

    @property
    def session(self) -> CryptoSession | None:
        return self._session

    def start(self) -> None:
        self._advance("start")
        self._handshake = Handshake(
            initiator=self.role == "initiator",
            key=self.key,
            static=self._static,
            version=self.version,
            network=self.network,
            listen=self.listen,
        )
        message = self._handshake.start()
        if message is not None:
            self._queue_handshake(message)

    def reset(self) -> None:
        """Make a closed connection reusable: back to NEW, buffers and keys dropped."""
        self._advance("reset")
        self._incoming.clear()
        self._outgoing.clear()
        self._handshake = None
        self._session = None
        self.peer = None

    # --- input ---

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes from the peer; every complete message in them is processed."""
        state = self._state
        if state is _CLOSED:
            return []  # late bytes after we closed mean nothing
        if state is _NEW:
            raise LocalError("receive_data before start()", code="bad_transition")
        self._incoming.feed(data)
        events: list[Event] = []
        try:
            if state is _INIT:
                self._drive_handshake(events)
            if self._state is _READY:
                self._read_frames(events)
        except RemoteError as e:
            self._fail(e)
            raise
        return events

    def receive_eof(self) -> list[Event]:
        """The peer closed its side."""
        if self._state is State.CLOSED:
            return []
        if self._state is State.NEW:
            raise LocalError("receive_eof before start()", code="bad_transition")
        in_handshake = self._state is State.INIT
        self._advance("close")
        try:
            self._incoming.eof()  # frame_truncated if a message was cut off
        finally:
            self._incoming.clear()
        message = "the peer closed the connection"
        return [
            Disconnected("eof", message + (" during the handshake" if in_handshake else ""), True)
        ]

    def _drive_handshake(self, events: list[Event]) -> None:
        hs = self._handshake
        assert hs is not None
        incoming = self._incoming
        while not hs.complete and (message := incoming.next_handshake_message()) is not None:
            reply = hs.receive(message)
            if reply is not None:
                self._queue_handshake(reply)
        if not hs.complete:
            return
        self._session = CryptoSession(*hs.keys())
        peer = hs.peer
        assert peer is not None
        refused = refusal(
            peer, node_id=self.key.node_id, network=self.network, versions=self.accept_versions
        )
        if refused is not None:
            raise refused
        self.peer = peer
        self._advance("established")
        events.append(HandshakeComplete(peer))

    def _read_frames(self, events: list[Event]) -> None:
        session = self._session
        assert session is not None
        incoming = self._incoming
        spans, error = incoming.spans()
        if spans:
            open_raw = session.open_raw
            append = events.append
            with memoryview(incoming.buffer) as view:
                for start, end in spans:
                    code, flags, msg_id, nonce, tag, body = open_raw(view, start, end)
                    if code == _BATCH:
                        if flags or msg_id:
                            raise violation("bad_batch", "a BATCH frame has flags or a msg_id")
                        events += batch.decode(body, nonce, tag)
                        continue
                    if code == _DISCONNECT:
                        reason = decode_disconnect(body)
                        self._advance("close")
                        append(Disconnected(reason.code, reason.message, by_peer=True))
                        break
                    append(PacketReceived(code, flags == 1, flags == 2, msg_id, body, nonce, tag))
            if self._state is _CLOSED:
                incoming.clear()
                return
        if error is not None:
            raise error

    def _fail(self, error: RemoteError) -> None:
        if self._state is _CLOSED:
            return
        self._queue_disconnect(error.code, error.message)
        self._advance("close")
        self._incoming.clear()

    # --- output ---

    def send_packet(
        self,
        code: int,
        body: bytes,
        *,
        msg_id: int = 0,
        response_handler: bool = False,
        is_response: bool = False,
    ) -> bool:
        """Queue one packet for the next `data_to_send`; False if over the outgoing budget."""
        session = self._session
        size = len(body)
        if (
            session is None
            or self._state is not _READY
            or (response_handler and is_response)
            or code == _DISCONNECT
            or code == _BATCH
            or not (0 <= code <= MAX_CODE and 0 <= msg_id <= MAX_MSG_ID)
            or size > self.max_frame
        ):
            self._refuse(code, msg_id, size, response_handler and is_response)
        out = self._outgoing
        # Each queued packet may take a nonce of its own; keep the last for DISCONNECT.
        if session.send_nonce + len(out.pending) >= _LAST_NONCE:
            self.close("rekey_required", "nonce limit reached; reconnect to rekey")
            raise LocalError("send nonce limit reached", code="rekey_required")
        # `out.queue`, inlined: over budget, the packet is refused and never uses a nonce
        size += HEADER_SIZE
        if out.size + out.pending_size + size > out.budget:
            return False
        if response_handler or is_response:
            flags = RESPONSE_HANDLER if response_handler else IS_RESPONSE
            out.pending.append((code, flags, msg_id, body))
        else:
            out.pending.append((code, 0, msg_id, body))
        out.pending_size += size
        return True

    def _refuse(self, code: int, msg_id: int, size: int, both_flags: bool) -> NoReturn:
        """Why `send_packet` cannot send this (its checks again, one by one)."""
        if self._state is not _READY or self._session is None:
            raise LocalError(f"cannot send in state {self._state.value}", code="not_ready")
        if both_flags:
            raise LocalError("a packet cannot be both request and response", code="bad_flags")
        if code == _DISCONNECT or code == _BATCH:
            raise LocalError(f"code {code} is sent by the Connection itself", code="bad_code")
        if not (0 <= code <= MAX_CODE and 0 <= msg_id <= MAX_MSG_ID):
            raise LocalError(f"code {code} or msg_id {msg_id} out of range", code="bad_header")
        raise LocalError(f"body of {size} bytes over {self.max_frame}", code="body_too_large")

    def close(self, code: str = "closed", message: str = "") -> None:
        """Close from our side; once READY the peer is told why. Idempotent."""
        if self._state is State.CLOSED:
            return
        if self._state is State.READY:
            self._queue_disconnect(code, message)
        self._advance("close")
        self._incoming.clear()

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, sealed (also after close: the DISCONNECT)."""
        out = self._outgoing
        if out.pending:
            assert self._session is not None  # packets are only queued once READY
            out.seal_pending(self._session.seal)
        return out.take()

    @property
    def outgoing_size(self) -> int:
        """Bytes queued, counting a packet not sealed yet as a lone frame."""
        return self._outgoing.total

    def _queue_handshake(self, message: bytes) -> None:
        self._outgoing.push_control(HANDSHAKE_LENGTH.pack(len(message)), message)

    def _queue_disconnect(self, code: str, message: str) -> None:
        session = self._session
        if session is None:
            return
        out = self._outgoing
        if out.pending:
            out.seal_pending(session.seal)  # what was sent before the close goes first
        if session.send_nonce >= NONCE_LIMIT:
            return
        out.size += session.seal(_DISCONNECT, 0, 0, encode_disconnect(code, message), out.parts)
