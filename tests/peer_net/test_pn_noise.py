"""Noise XX against every cacophony vector in the file, plus bad handshake input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agora.errors import LocalError, RemoteError
from agora.peer_net.noise import HandshakeState

VECTORS_FILE = Path(__file__).parent / "vectors" / "cacophony-xx.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]


def test_the_file_has_every_hash() -> None:
    names = sorted(v["protocol_name"] for v in VECTORS)
    assert names == [
        "Noise_XX_25519_ChaChaPoly_BLAKE2b",
        "Noise_XX_25519_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519_ChaChaPoly_SHA256",
        "Noise_XX_25519_ChaChaPoly_SHA512",
    ]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["protocol_name"] for v in VECTORS])
def test_cacophony_vector(vector: dict[str, Any]) -> None:
    name = vector["protocol_name"]
    init = HandshakeState(
        initiator=True,
        protocol_name=name,
        prologue=bytes.fromhex(vector["init_prologue"]),
        static=bytes.fromhex(vector["init_static"]),
        ephemeral=bytes.fromhex(vector["init_ephemeral"]),
    )
    resp = HandshakeState(
        initiator=False,
        protocol_name=name,
        prologue=bytes.fromhex(vector["resp_prologue"]),
        static=bytes.fromhex(vector["resp_static"]),
        ephemeral=bytes.fromhex(vector["resp_ephemeral"]),
    )
    messages = vector["messages"]
    assert len(messages) > 3
    # Handshake: the initiator writes messages 0 and 2, the responder message 1.
    for i, msg in enumerate(messages[:3]):
        writer, reader = (init, resp) if i % 2 == 0 else (resp, init)
        payload = bytes.fromhex(msg["payload"])
        ciphertext = writer.write_message(payload)
        assert ciphertext.hex() == msg["ciphertext"], f"message {i}"
        assert reader.read_message(ciphertext) == payload
    assert init.complete and resp.complete
    assert init.handshake_hash.hex() == vector["handshake_hash"]
    assert resp.handshake_hash.hex() == vector["handshake_hash"]
    assert init.rs == resp.s_pub and resp.rs == init.s_pub
    i_send, i_recv = init.split()
    r_recv, r_send = resp.split()
    # Transport messages keep alternating: the responder sends message 3.
    for i, msg in enumerate(messages[3:], start=3):
        send, recv = (i_send, r_recv) if i % 2 == 0 else (r_send, i_recv)
        payload = bytes.fromhex(msg["payload"])
        ciphertext = send.encrypt_with_ad(b"", payload)
        assert ciphertext.hex() == msg["ciphertext"], f"message {i}"
        assert recv.decrypt_with_ad(b"", ciphertext) == payload


def _pair() -> tuple[HandshakeState, HandshakeState]:
    v = VECTORS[0]
    init = HandshakeState(initiator=True, static=bytes.fromhex(v["init_static"]))
    resp = HandshakeState(initiator=False, static=bytes.fromhex(v["resp_static"]))
    return init, resp


def test_tampered_message_two_fails_the_handshake() -> None:
    init, resp = _pair()
    resp.read_message(init.write_message(b""))
    msg2 = bytearray(resp.write_message(b"hello"))
    msg2[40] ^= 1  # inside the encrypted static key
    with pytest.raises(RemoteError) as err:
        init.read_message(bytes(msg2))
    assert err.value.code == "handshake_failed"


@pytest.mark.parametrize("size", [0, 31, 32 + 47, 32 + 48 + 15])
def test_short_message_two_fails(size: int) -> None:
    init, resp = _pair()
    resp.read_message(init.write_message(b""))
    msg2 = resp.write_message(b"")
    with pytest.raises(RemoteError) as err:
        init.read_message(msg2[:size])
    assert err.value.code == "handshake_failed"


def test_low_order_ephemeral_is_refused() -> None:
    _, resp = _pair()
    with pytest.raises(RemoteError) as err:
        resp.read_message(bytes(32))  # the all-zero point
        resp.write_message(b"")
    assert err.value.code == "handshake_failed"


def test_out_of_turn_is_a_local_error() -> None:
    init, resp = _pair()
    with pytest.raises(LocalError):
        resp.write_message(b"")
    with pytest.raises(LocalError):
        init.read_message(bytes(32))
    with pytest.raises(LocalError):
        init.split()


def test_unsupported_protocol_names() -> None:
    for name in [
        "Noise_IK_25519_ChaChaPoly_SHA256",
        "Noise_XX_448_ChaChaPoly_SHA256",
        "Noise_XX_25519_AESGCM_SHA256",
        "Noise_XX_25519_ChaChaPoly_MD5",
    ]:
        with pytest.raises(LocalError):
            HandshakeState(initiator=True, static=bytes(32), protocol_name=name)
