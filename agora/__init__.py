"""Agora: a peer-to-peer social network that runs as a BFT blockchain."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
