"""What each peer_net protocol violation is called and what it costs the peer.

A penalty of `BAN` means the peer broke the protocol on purpose or is not an
Agora node at all: the service layer closes and bans it. Refusals (another
network, version, or ourselves) cost nothing: the peer is not misbehaving.
"""

from __future__ import annotations

from agora.errors import RemoteError

BAN = 100

PENALTIES: dict[str, int] = {
    # handshake
    "handshake_failed": BAN,
    "handshake_message_too_long": BAN,
    "bad_hello": BAN,
    "bad_identity_signature": BAN,
    # refusals after the handshake: nobody's fault
    "wrong_network": 0,
    "incompatible_version": 0,
    "self_connection": 0,
    # frames
    "frame_oversize": BAN,
    "frame_undersize": BAN,
    "frame_truncated": 10,  # often a crash or a reset mid-write, not malice
    "bad_flags": BAN,
    "bad_tag": BAN,
    "nonce_replay": BAN,
    "nonce_skip": BAN,
    "rekey_required": BAN,
    "bad_disconnect": BAN,
    "bad_batch": BAN,
}


def violation(code: str, message: str) -> RemoteError:
    """A RemoteError for `code`, with its penalty from the table."""
    return RemoteError(message, code=code, penalty=PENALTIES[code])
