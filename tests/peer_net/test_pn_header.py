"""The frame layout, pinned with bytes computed by hand."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from agora.errors import RemoteError
from agora.peer_net.crypto_session import CryptoSession
from agora.peer_net.header import HEADER_SIZE, Header, encode_flags, pack, unpack

TAG = bytes(range(16))


def test_header_known_good_bytes() -> None:
    h = Header(code=0x0102, response_handler=True, is_response=False, msg_id=7, nonce=1, tag=TAG)
    raw = pack(h, body_size=5)
    assert raw.hex() == (
        "00000024"  # L = 31 + 5 = 36
        "0102"  # code
        "01"  # flags: response_handler
        "00000007"  # msg_id
        "0000000000000001"  # nonce
        "000102030405060708090a0b0c0d0e0f"  # tag
    )
    assert len(raw) == HEADER_SIZE == 35
    back, body_size = unpack(raw + b"\xaa" * 5)
    assert back == h and body_size == 5
    assert back.is_marshalled is False


def test_header_response_and_big_fields() -> None:
    h = Header(0xFFFF, False, True, 0xFFFFFFFF, 2**63 - 1, TAG, is_marshalled=True)
    raw = pack(h, body_size=0)
    assert raw.hex() == ("0000001fffff02ffffffff7fffffffffffffff000102030405060708090a0b0c0d0e0f")
    back, size = unpack(raw)
    assert size == 0 and back.is_response and not back.response_handler
    assert back.is_marshalled is False  # never on the wire


@pytest.mark.parametrize("flags", [0x03, 0x04, 0x80, 0xFF, 0x05])
def test_bad_flags(flags: int) -> None:
    raw = bytearray(pack(Header(2, False, False, 0, 0, TAG), 0))
    raw[6] = flags
    with pytest.raises(RemoteError) as err:
        unpack(bytes(raw))
    assert err.value.code == "bad_flags"
    assert err.value.penalty == 100


def test_flags_encoding() -> None:
    assert encode_flags(False, False) == 0
    assert encode_flags(True, False) == 1
    assert encode_flags(False, True) == 2


def test_short_header_is_undersize() -> None:
    with pytest.raises(RemoteError) as err:
        unpack(bytes(34))
    assert err.value.code == "frame_undersize"


def test_sealed_frame_layout() -> None:
    """A whole frame: hand-written header, and the tag/ciphertext an AEAD call gives."""
    k_send, k_recv = bytes(range(32)), bytes(range(32, 64))
    session = CryptoSession(k_send, k_recv)
    session.send_nonce = 1
    body = b"hello"
    parts: list[bytes | bytearray | memoryview] = []
    size = session.seal(0x0010, 0x02, 0x0A0B0C0D, body, parts)
    frame = b"".join(parts)
    assert size == len(frame) and len(parts) == 2
    aad = bytes.fromhex("000000240010020a0b0c0d0000000000000001")
    assert frame[:19] == aad
    # AEAD nonce: 4 zero bytes, then the counter 1 little-endian.
    sealed = ChaCha20Poly1305(k_send).encrypt(bytes.fromhex("000000000100000000000000"), body, aad)
    assert frame[19:35] == sealed[-16:]  # the tag sits before the ciphertext
    assert frame[35:] == sealed[:-16]
    assert len(frame) == 4 + 36
    # The whole frame for these keys, pinned (tag and ciphertext from the AEAD above).
    assert frame.hex() == (
        "00000024"
        "0010"
        "02"
        "0a0b0c0d"
        "0000000000000001"
        "3e028143d98b776e49d736c5ab11ff2c"  # tag
        "f7329f33da"  # "hello" encrypted
    )
    receiver = CryptoSession(k_recv, k_send)
    receiver.recv_nonce = 1
    header, plain = receiver.open(frame)
    assert plain == body
    assert header == Header(0x10, False, True, 0x0A0B0C0D, 1, sealed[-16:])
    assert receiver.recv_nonce == 2 and session.send_nonce == 2
