"""Packet codes. The negotiation codes are handled by peer_net itself."""

from __future__ import annotations

from enum import IntEnum

FIRST_APP_CODE = 16  # gossip, sync and the rest are numbered from here


class PacketCode(IntEnum):
    DISCONNECT = 1  # handled inside Connection: the body says why
    PING = 2
    PONG = 3
    PEX_REQUEST = 4
    PEX_RESPONSE = 5
    BATCH = 6  # handled inside Connection: several packets in one frame (batch.py)
