"""Transport encryption after the handshake: frames in, authenticated packets out.

Each direction has its own ChaCha20-Poly1305 key from Noise's Split() and its
own packet counter, which is the frame's `nonce` field. The AEAD nonce is four
zero bytes and the counter little-endian (as in Noise); the AAD is the frame's
bytes 0..19, so the length, code, flags, msg_id and nonce are authenticated.

The receiver takes only the exact next nonce: an older one is a replay, a
newer one means a frame was dropped or reordered, and both close the
connection. There is no rekey: a direction may use nonces up to 2**63 - 1, and
the connection spends the last one on DISCONNECT `rekey_required` (see
Connection); a peer that goes past it gets `rekey_required`. At one packet a
microsecond that is 290,000 years, so a reconnect is the rekey.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from agora.errors import LocalError
from agora.peer_net.header import (
    AAD,
    AAD_SIZE,
    HEADER,
    HEADER_SIZE,
    KNOWN_FLAGS,
    MIN_LENGTH,
    TAG_SIZE,
    Header,
    check_flags,
)
from agora.peer_net.outgoing import Chunk
from agora.peer_net.violations import violation

NONCE_LIMIT = 2**63  # first nonce never used; the last usable one carries the DISCONNECT
_NONCE = struct.Struct("<4xQ")
Opened = tuple[int, int, int, int, bytes, bytes]  # code, flags, msg_id, nonce, tag, body


class CryptoSession:
    """One connection's two transport directions."""

    __slots__ = ("_recv", "_send", "recv_nonce", "send_nonce")

    def __init__(self, send_key: bytes, recv_key: bytes) -> None:
        self._send = ChaCha20Poly1305(send_key)
        self._recv = ChaCha20Poly1305(recv_key)
        self.send_nonce = 0
        self.recv_nonce = 0

    def seal(self, code: int, flags: int, msg_id: int, body: bytes, into: list[Chunk]) -> int:
        """Encrypt one packet onto `into` in two pieces; return the frame's size.

        Header and encrypted body stay separate so the body is not copied
        again before the single join in Outgoing.take.
        """
        n = self.send_nonce
        if n >= NONCE_LIMIT:
            raise LocalError("send nonce exhausted", code="rekey_required")
        aad = AAD.pack(MIN_LENGTH + len(body), code, flags, msg_id, n)
        sealed = self._send.encrypt(_NONCE.pack(n), body, aad)
        self.send_nonce = n + 1
        into.append(aad + sealed[-TAG_SIZE:])
        into.append(memoryview(sealed)[:-TAG_SIZE])
        return AAD_SIZE + len(sealed)

    def open(self, frame: bytes | bytearray | memoryview) -> tuple[Header, bytes]:
        """Authenticate and decrypt one whole frame (length prefix included)."""
        if len(frame) < HEADER_SIZE:
            raise violation("frame_undersize", f"a frame is at least {HEADER_SIZE} bytes")
        with memoryview(frame) as view:
            return self.open_at(view, 0, len(frame))

    def open_at(self, buf: memoryview, start: int, end: int) -> tuple[Header, bytes]:
        """`open` for the frame at buf[start:end], whose length field was checked."""
        code, flags, msg_id, nonce, tag, body = self.open_raw(buf, start, end)
        return Header(code, flags == 1, flags == 2, msg_id, nonce, tag), body  # flags: 0, 1 or 2

    def open_raw(self, buf: memoryview, start: int, end: int) -> Opened:
        """`open_at` without building a Header: (code, flags, msg_id, nonce, tag, body)."""
        _, code, flags, msg_id, nonce, tag = HEADER.unpack_from(buf, start)
        if flags & ~KNOWN_FLAGS or flags == KNOWN_FLAGS:  # check_flags, inlined: hot path
            check_flags(flags)
        expected = self.recv_nonce
        if nonce != expected:
            if nonce < expected:
                raise violation("nonce_replay", f"nonce {nonce}, expected {expected}")
            raise violation("nonce_skip", f"nonce {nonce}, expected {expected}")
        if nonce >= NONCE_LIMIT:
            raise violation("rekey_required", "the peer kept sending past its nonce limit")
        try:
            body = self._recv.decrypt(
                _NONCE.pack(nonce),
                b"".join((buf[start + HEADER_SIZE : end], tag)),  # ciphertext || tag
                buf[start : start + AAD_SIZE],
            )
        except InvalidTag:
            raise violation("bad_tag", f"frame {nonce} failed authentication") from None
        self.recv_nonce = nonce + 1
        return code, flags, msg_id, nonce, tag, body
