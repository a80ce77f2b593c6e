"""The events a `Connection` gives the service: handshake done, packets, goodbye."""

from __future__ import annotations

import msgspec

from agora.peer_net.header import Header
from agora.peer_net.identity import PeerInfo


class HandshakeComplete(msgspec.Struct, frozen=True, tag=True):
    peer: PeerInfo


class PacketReceived(msgspec.Struct, frozen=True, tag=True, gc=False):
    """One authenticated packet; a packet from a BATCH has the batch frame's nonce and tag.

    The header's fields are flat (one object a packet on the hot path);
    `header` puts them back together.
    """

    code: int
    response_handler: bool
    is_response: bool
    msg_id: int
    body: bytes | memoryview
    nonce: int
    tag: bytes

    @property
    def header(self) -> Header:
        return Header(
            self.code, self.response_handler, self.is_response, self.msg_id, self.nonce, self.tag
        )


class Disconnected(msgspec.Struct, frozen=True, tag=True):
    code: str
    message: str
    by_peer: bool


Event = HandshakeComplete | PacketReceived | Disconnected
