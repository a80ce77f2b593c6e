"""Negotiation: the XX handshake with Hellos, refusals, and the DISCONNECT body.

`Handshake` drives the three Noise messages and proves each side's identity;
it knows nothing of framing. `refusal` decides whether we keep the peer once
we know who it is.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Annotated

import msgspec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agora.errors import RemoteError
from agora.peer_net.identity import NodeKey, PeerInfo, encode_hello, make_hello, verify_hello
from agora.peer_net.noise import HandshakeState
from agora.peer_net.violations import violation

PROLOGUE = b"agora-noise-v1"
PROTOCOL_NAME = "Noise_XX_25519_ChaChaPoly_SHA256"


class Handshake:
    """One side of the XX handshake: message 1 is empty, 2 and 3 carry Hellos."""

    __slots__ = ("_hello", "_noise", "initiator", "peer")

    def __init__(
        self,
        *,
        initiator: bool,
        key: NodeKey,
        static: X25519PrivateKey,
        version: int,
        network: str,
        listen: str,
        ephemeral: X25519PrivateKey | None = None,
    ) -> None:
        self.initiator = initiator
        self._noise = HandshakeState(
            initiator=initiator,
            static=static,
            prologue=PROLOGUE,
            ephemeral=ephemeral,
            protocol_name=PROTOCOL_NAME,
        )
        hello = make_hello(key, self._noise.s_pub, version, network, listen)
        self._hello = encode_hello(hello)
        self.peer: PeerInfo | None = None

    @property
    def complete(self) -> bool:
        return self._noise.complete

    def start(self) -> bytes | None:
        """Message 1 for the initiator; the responder waits."""
        return self._noise.write_message(b"") if self.initiator else None

    def receive(self, message: bytes) -> bytes | None:
        """Read the peer's next message; return our reply, if the pattern has one."""
        noise = self._noise
        payload = noise.read_message(message)
        if noise.step == 1:  # the responder read message 1
            if payload:
                raise violation("handshake_failed", "message 1 must have an empty payload")
            return noise.write_message(self._hello)
        assert noise.rs is not None  # read with the `s` token of messages 2 and 3
        self.peer = verify_hello(payload, noise.rs)
        if noise.step == 2:  # the initiator read message 2
            return noise.write_message(self._hello)
        return None

    def keys(self) -> tuple[bytes, bytes]:
        """(send key, receive key) for this side."""
        i_to_r, r_to_i = self._noise.split_keys()
        return (i_to_r, r_to_i) if self.initiator else (r_to_i, i_to_r)


def refusal(
    peer: PeerInfo, *, node_id: bytes, network: str, versions: Container[int]
) -> RemoteError | None:
    """Why we will not keep this (authenticated) peer, or None."""
    if peer.network != network:
        return violation(
            "wrong_network", f"this node is on network {network!r}, not {peer.network!r}"
        )
    if peer.version not in versions:
        return violation(
            "incompatible_version", f"protocol version {peer.version} is not supported here"
        )
    if peer.identity_key == node_id:
        return violation("self_connection", "connected to ourselves")
    return None


MAX_REASON_CODE = 64
MAX_REASON_MESSAGE = 1024


class Disconnect(msgspec.Struct, frozen=True, array_like=True):
    """The body of a DISCONNECT packet."""

    code: Annotated[str, msgspec.Meta(max_length=MAX_REASON_CODE)]
    message: Annotated[str, msgspec.Meta(max_length=MAX_REASON_MESSAGE)]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Disconnect)


def encode_disconnect(code: str, message: str) -> bytes:
    return _encoder.encode(Disconnect(code[:MAX_REASON_CODE], message[:MAX_REASON_MESSAGE]))


def decode_disconnect(body: bytes) -> Disconnect:
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as e:
        raise violation("bad_disconnect", f"undecodable DISCONNECT body: {e}") from None
