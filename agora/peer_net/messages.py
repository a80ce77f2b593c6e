"""The messages on peer_net's channels: one tagged union for each direction.

`NetCommand` goes from an actor (consensus, blockchain, social, rpc) into
peer_net; `NetEvent` comes out of peer_net to the actor that owns the code.
Bodies are the encoded payloads: peer_net never decodes application bodies,
the owning actor does, and reports a bad one with `Penalize`.

Every field is a number, a string or bytes, so no message can be part of a
reference cycle: they are `gc=False`, which keeps the millions of them a busy
node makes out of the cyclic garbage collector's way.
"""

from __future__ import annotations

import msgspec

# --- into peer_net ---


class Broadcast(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Gossip `body` to every peer that does not have it yet, except `exclude`."""

    code: int
    body: bytes
    exclude: bytes | None = None  # the peer it came from


class SendTo(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Send one announcement to one peer (no response expected)."""

    peer_id: bytes
    code: int
    body: bytes


class Request(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Ask a peer; the answer comes back as `Response(req_id)` or `RequestFailed(req_id)`."""

    req_id: int  # chosen by the asking actor, echoed back
    peer_id: bytes | None  # None: peer_net picks a connected peer
    code: int
    body: bytes
    timeout_s: float = 10.0


class Respond(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Answer the request `msg_id` of an `Inbound` with `is_request=True`."""

    peer_id: bytes
    msg_id: int
    code: int
    body: bytes


class Penalize(msgspec.Struct, frozen=True, tag=True, gc=False):
    """An actor found a peer misbehaving (say, an invalid vote signature)."""

    peer_id: bytes
    code: str  # the behaviour event, a stable error code
    penalty: int


class Disconnect(msgspec.Struct, frozen=True, tag=True, gc=False):
    peer_id: bytes
    reason: str


NetCommand = Broadcast | SendTo | Request | Respond | Penalize | Disconnect


# --- out of peer_net ---


class Inbound(msgspec.Struct, frozen=True, tag=True, gc=False):
    """A packet from a peer: an announcement, or a request to answer with `Respond`."""

    peer_id: bytes
    code: int
    body: bytes
    msg_id: int = 0
    is_request: bool = False


class Response(msgspec.Struct, frozen=True, tag=True, gc=False):
    req_id: int
    peer_id: bytes
    body: bytes


class RequestFailed(msgspec.Struct, frozen=True, tag=True, gc=False):
    req_id: int
    reason_code: str  # "timeout", "peer_disconnected", "no_peer", "send_failed"


class PeerUp(msgspec.Struct, frozen=True, tag=True, gc=False):
    peer_id: bytes
    addr: str
    inbound: bool


class PeerDown(msgspec.Struct, frozen=True, tag=True, gc=False):
    peer_id: bytes
    reason: str


NetEvent = Inbound | Response | RequestFailed | PeerUp | PeerDown
