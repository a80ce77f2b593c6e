"""Every kind of bad input from a peer gives its own RemoteError code."""

from __future__ import annotations

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pn_util import NETWORK, Pair, make

from agora import PROTOCOL_VERSION
from agora.errors import RemoteError
from agora.peer_net.codes import PacketCode
from agora.peer_net.connection import Connection, Disconnected, State
from agora.peer_net.crypto_session import CryptoSession
from agora.peer_net.identity import Hello, NodeKey, encode_hello, make_hello
from agora.peer_net.negotiation import PROLOGUE
from agora.peer_net.noise import HandshakeState, public_bytes


def _refused(conn: Connection, data: bytes, code: str) -> RemoteError:
    with pytest.raises(RemoteError) as err:
        conn.receive_data(data)
    assert err.value.code == code, err.value
    assert conn.state is State.CLOSED
    assert conn.receive_data(b"more") == []  # closed: nothing else is processed
    return err.value


def _framed(message: bytes) -> bytes:
    return len(message).to_bytes(2, "big") + message


def _sealed(session: CryptoSession, code: int, flags: int, body: bytes) -> bytes:
    parts: list[bytes | bytearray | memoryview] = []
    session.seal(code, flags, 0, body, parts)
    return b"".join(parts)


def _ready_pair() -> Pair:
    pair = Pair.new(init_kw={"max_frame": 1024}, max_frame=1024).connect()
    pair.take("init"), pair.take("resp")
    return pair


# --- before and during the handshake ---


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "handshake_message_too_long"),
        (b"\x16\x03\x01\x02\x00", "handshake_message_too_long"),  # a TLS ClientHello
        (b"\x04\x01", "handshake_message_too_long"),  # 1025: refused from 2 bytes
        (_framed(b"short"), "handshake_failed"),
        (_framed(bytes(range(33))), "handshake_failed"),  # message 1 with a payload
        (_framed(bytes(32)), "handshake_failed"),  # a low-order point
        (_framed(b""), "handshake_failed"),
    ],
)
def test_garbage_into_a_responder(data: bytes, code: str) -> None:
    conn = make("responder")
    conn.start()
    err = _refused(conn, data, code)
    assert err.penalty == 100
    assert conn.data_to_send() == b""  # no keys yet: nothing to say


@pytest.mark.parametrize("flip", [0, 31, 32, 40, 79, 80, -1])
def test_tampered_message_two(flip: int) -> None:
    pair = Pair.new().start()
    pair.resp.receive_data(pair.init.data_to_send())
    msg2 = bytearray(pair.resp.data_to_send())
    msg2[2 + flip if flip >= 0 else flip] ^= 0x01
    err = _refused(pair.init, bytes(msg2), "handshake_failed")
    assert err.penalty == 100


def test_message_two_too_long_for_the_initiator() -> None:
    conn = make("initiator")
    conn.start()
    _refused(conn, b"\xff\xff", "handshake_message_too_long")


def _raw_initiator_into(resp: Connection, payload: bytes, static: X25519PrivateKey) -> None:
    """Play the initiator by hand and send `payload` as its Hello."""
    hs = HandshakeState(initiator=True, static=static, prologue=PROLOGUE)
    resp.start()
    resp.receive_data(_framed(hs.write_message(b"")))
    hs.read_message(resp.data_to_send()[2:])
    resp.receive_data(_framed(hs.write_message(payload)))


def _bad_hellos() -> list[tuple[str, bytes, str | None]]:
    key, static = NodeKey.generate(), X25519PrivateKey.from_private_bytes(bytes(range(32)))
    good = make_hello(key, public_bytes(static), PROTOCOL_VERSION, NETWORK, "127.0.0.1:1")
    other_static = public_bytes(X25519PrivateKey.generate())
    wrong_static = make_hello(key, other_static, PROTOCOL_VERSION, NETWORK, "x")
    other_signer = make_hello(NodeKey.generate(), public_bytes(static), 1, NETWORK, "x")
    enc = msgspec.msgpack.encode
    ik, sig = good.identity_key, good.signature
    return [
        ("garbage", b"\xc1\xc1", "bad_hello"),
        ("empty", b"", "bad_hello"),
        ("short_key", enc([ik[:31], sig, 1, NETWORK, ""]), "bad_hello"),
        ("short_sig", enc([ik, sig[:63], 1, NETWORK, ""]), "bad_hello"),
        ("wrong_type", enc([ik, sig, "1", NETWORK, ""]), "bad_hello"),
        (
            "long_network",
            encode_hello(Hello(ik, sig, 1, "n" * 65, "")),
            "bad_hello",
        ),
        (
            "negative_version",
            enc([ik, sig, -1, NETWORK, ""]),
            "bad_hello",
        ),
        ("signs_another_static", encode_hello(wrong_static), "bad_identity_signature"),
        (
            "someone_elses_signature",
            encode_hello(Hello(key.node_id, other_signer.signature, 1, NETWORK, "x")),
            "bad_identity_signature",
        ),
        (
            "tampered_listen",
            encode_hello(Hello(key.node_id, good.signature, 1, NETWORK, "y")),
            None,
        ),  # type: ignore[list-item]
    ]


@pytest.mark.parametrize(
    ("name", "payload", "code"), _bad_hellos(), ids=[h[0] for h in _bad_hellos()]
)
def test_bad_hello_from_the_initiator(name: str, payload: bytes, code: str | None) -> None:
    static = X25519PrivateKey.from_private_bytes(bytes(range(32)))
    resp = make("responder")
    if code is None:
        # The signature covers the static key only: the listen address is the peer's claim.
        _raw_initiator_into(resp, payload, static)
        assert resp.state is State.READY and resp.peer is not None and resp.peer.listen == "y"
        return
    with pytest.raises(RemoteError) as err:
        _raw_initiator_into(resp, payload, static)
    assert err.value.code == code and err.value.penalty == 100
    assert resp.state is State.CLOSED


def test_bad_hello_from_the_responder() -> None:
    init = make("initiator")
    init.start()
    hs = HandshakeState(initiator=False, static=X25519PrivateKey.generate(), prologue=PROLOGUE)
    hs.read_message(init.data_to_send()[2:])
    _refused(init, _framed(hs.write_message(b"not a hello")), "bad_hello")


# --- after the handshake ---


def test_oversize_refused_from_the_length_alone() -> None:
    pair = _ready_pair()
    # max_frame 1024: the largest legal L is 1024 + 31; its 4 bytes alone are fine.
    assert pair.resp.receive_data((1024 + 31).to_bytes(4, "big")) == []
    pair2 = _ready_pair()
    err = _refused(pair2.resp, (1024 + 32).to_bytes(4, "big"), "frame_oversize")
    assert err.penalty == 100


@pytest.mark.parametrize("length", [0, 1, 30])
def test_undersize(length: int) -> None:
    _refused(_ready_pair().resp, length.to_bytes(4, "big"), "frame_undersize")


def test_garbage_after_the_handshake_and_the_peer_hears_why() -> None:
    pair = _ready_pair()
    _refused(pair.resp, (31).to_bytes(4, "big") + bytes(31), "bad_tag")
    # The violator is told the reason in an encrypted DISCONNECT.
    events = pair.init.receive_data(pair.resp.data_to_send())
    assert len(events) == 1 and isinstance(events[0], Disconnected)
    assert events[0].code == "bad_tag" and events[0].by_peer


def test_truncated_frame_at_eof() -> None:
    pair = _ready_pair()
    pair.init.send_packet(PacketCode.PING, b"hello")
    data = pair.init.data_to_send()
    assert pair.resp.receive_data(data[:-1]) == []
    with pytest.raises(RemoteError) as err:
        pair.resp.receive_eof()
    assert err.value.code == "frame_truncated" and err.value.penalty == 10
    assert pair.resp.state is State.CLOSED


def test_truncated_handshake_at_eof() -> None:
    pair = Pair.new().start()
    pair.resp.receive_data(pair.init.data_to_send()[:10])
    with pytest.raises(RemoteError) as err:
        pair.resp.receive_eof()
    assert err.value.code == "frame_truncated"


def _frames(pair: Pair, n: int) -> list[bytes]:
    out = []
    for i in range(n):
        pair.init.send_packet(PacketCode.PING, bytes([i]) * 10)
        out.append(pair.init.data_to_send())
    return out


def test_replayed_frame() -> None:
    pair = _ready_pair()
    f0, f1 = _frames(pair, 2)
    assert len(pair.resp.receive_data(f0 + f1)) == 2
    _refused(pair.resp, f0, "nonce_replay")


def test_skipped_frame() -> None:
    pair = _ready_pair()
    f0, _, f2 = _frames(pair, 3)
    assert len(pair.resp.receive_data(f0)) == 1
    _refused(pair.resp, f2, "nonce_skip")


def _expected_for_byte(i: int, bit: int) -> str:
    if i == 6:
        return "bad_tag" if bit == 0x01 else "bad_flags"  # 0x01 is a valid flag
    if 11 <= i < 19:
        return "nonce_skip"  # the nonce was 0: any flip makes it larger
    return "bad_tag"


@pytest.mark.parametrize("i", range(4, 45))
@pytest.mark.parametrize("bit", [0x01, 0x04])
def test_tampered_byte(i: int, bit: int) -> None:
    pair = _ready_pair()
    (frame,) = _frames(pair, 1)  # 35 header bytes + 10 body bytes
    tampered = bytearray(frame)
    tampered[i] ^= bit
    _refused(pair.resp, bytes(tampered), _expected_for_byte(i, bit))


def test_tampered_length_byte() -> None:
    pair = _ready_pair()
    (frame,) = _frames(pair, 1)
    # L one smaller: the frame ends a byte early and its tag fails.
    _refused(pair.resp, (44 - 4 - 1).to_bytes(4, "big") + frame[4:], "bad_tag")


def test_authenticated_bad_flags() -> None:
    for flags in (0x04, 0x03):
        pair = _ready_pair()
        session = pair.init.session
        assert session is not None
        # Sealed with the right key: only the flags are wrong.
        _refused(pair.resp, _sealed(session, 20, flags, b"x"), "bad_flags")


def test_undecodable_disconnect() -> None:
    pair = _ready_pair()
    session = pair.init.session
    assert session is not None
    _refused(pair.resp, _sealed(session, PacketCode.DISCONNECT, 0, b"\xc1"), "bad_disconnect")


def test_receive_nonce_past_the_limit() -> None:
    pair = _ready_pair()
    assert pair.init.session is not None and pair.resp.session is not None
    # The peer should have closed at 2**63 - 1; a frame numbered 2**63 is refused.
    pair.init.session.send_nonce = 2**63
    pair.resp.session.recv_nonce = 2**63
    aad = (31).to_bytes(4, "big") + b"\x00\x14\x00" + bytes(4) + (2**63).to_bytes(8, "big")
    _refused(pair.resp, aad + bytes(16), "rekey_required")


def test_packets_before_a_violation_in_the_same_data_are_not_delivered() -> None:
    pair = _ready_pair()
    (f0,) = _frames(pair, 1)
    with pytest.raises(RemoteError) as err:
        pair.resp.receive_data(f0 + b"\xff\xff\xff\xff")
    assert err.value.code == "frame_oversize"
    assert pair.resp.state is State.CLOSED


def test_a_disconnect_before_garbage_is_still_heard() -> None:
    pair = _ready_pair()
    pair.init.send_packet(PacketCode.PING, b"1")
    pair.init.close("going_away", "bye")
    events = pair.resp.receive_data(pair.init.data_to_send() + b"\xff\xff\xff\xff")
    assert len(events) == 2 and events[1] == Disconnected("going_away", "bye", by_peer=True)
    assert pair.resp.state is State.CLOSED
