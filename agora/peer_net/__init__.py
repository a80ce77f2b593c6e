"""peer_net: the encrypted peer protocol.

The sans-IO core is here: Noise XX handshake with identity (noise.py,
identity.py, negotiation.py), frames (header.py, incoming.py, outgoing.py),
transport encryption (crypto_session.py) and the per-connection state machine
(connection.py). The asyncio service is built on `Connection`.
"""

from agora.peer_net.codes import PacketCode
from agora.peer_net.connection import (
    Connection,
    Disconnected,
    Event,
    HandshakeComplete,
    PacketReceived,
    State,
)
from agora.peer_net.header import Header
from agora.peer_net.identity import NodeKey, PeerInfo

__all__ = [
    "Connection",
    "Disconnected",
    "Event",
    "HandshakeComplete",
    "Header",
    "NodeKey",
    "PacketCode",
    "PacketReceived",
    "PeerInfo",
    "State",
]
