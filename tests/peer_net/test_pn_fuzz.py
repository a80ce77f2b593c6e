"""Fuzzed decoders: whatever a peer sends, only RemoteError comes out."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pn_util import Pair, make

from agora.errors import RemoteError
from agora.peer_net.codes import PacketCode
from agora.peer_net.connection import Connection, Disconnected, PacketReceived, State
from agora.peer_net.incoming import Incoming

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _feed_all(conn: Connection, pieces: list[bytes]) -> None:
    try:
        for piece in pieces:
            for event in conn.receive_data(piece):
                assert isinstance(event, PacketReceived | Disconnected) or event.peer
        conn.receive_eof()
    except RemoteError as e:
        assert e.code and isinstance(e.penalty, int)
        assert conn.state is State.CLOSED


@FUZZ
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_incoming_frames(data: bytes, cuts: list[int]) -> None:
    inc = Incoming(max_frame=200, budget=1000)
    got: list[bytes] = []
    try:
        for piece in _chunks(data, cuts):
            inc.feed(piece)
            got += [bytes(f) for f in inc.frames()]
        inc.eof()
    except RemoteError as e:
        assert e.code in {"frame_oversize", "frame_undersize", "frame_truncated"}
        return
    assert b"".join(got) == data  # nothing lost, nothing invented
    for f in got:
        assert int.from_bytes(f[:4], "big") == len(f) - 4
    # `spans` (the connection's fast path) cuts the same frames.
    inc2 = Incoming(max_frame=200, budget=1000)
    got2: list[bytes] = []
    for piece in _chunks(data, cuts):
        inc2.feed(piece)
        spans, error = inc2.spans()
        assert error is None
        got2 += [bytes(inc2.buffer[a:b]) for a, b in spans]
    assert got2 == got


def _ready() -> Pair:
    pair = Pair.new(init_kw={"max_frame": 512}, max_frame=512).connect()
    pair.take("init"), pair.take("resp")
    return pair


frame_fields = st.tuples(
    st.integers(0, 600),  # L (the limit is 512 + 31)
    st.integers(0, 2**16 - 1),
    st.integers(0, 255),
    st.integers(0, 2**32 - 1),
    st.integers(0, 3),  # nonce: near the expected one
    st.binary(min_size=16, max_size=16),
    st.binary(max_size=80),
)


@FUZZ
@given(frames=st.lists(frame_fields, min_size=1, max_size=4), cuts=st.lists(st.integers(0, 999)))
def test_arbitrary_frames_into_a_ready_connection(
    frames: list[tuple[int, int, int, int, int, bytes, bytes]], cuts: list[int]
) -> None:
    pair = _ready()
    data = b"".join(
        L.to_bytes(4, "big")
        + code.to_bytes(2, "big")
        + bytes([flags])
        + msg_id.to_bytes(4, "big")
        + nonce.to_bytes(8, "big")
        + tag
        + body
        for L, code, flags, msg_id, nonce, tag, body in frames
    )
    _feed_all(pair.resp, _chunks(data, cuts))


@FUZZ
@given(
    bodies=st.lists(st.binary(max_size=100), min_size=1, max_size=4),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
    cut=st.integers(0, 10_000),
    cuts=st.lists(st.integers(0, 999), max_size=5),
)
def test_mutated_valid_frames(
    bodies: list[bytes], edits: list[tuple[int, int]], cut: int, cuts: list[int]
) -> None:
    pair = _ready()
    for body in bodies:
        pair.init.send_packet(PacketCode.PING, body)
    data = bytearray(pair.init.data_to_send())
    for pos, xor in edits:
        data[pos % len(data)] ^= xor
    data = data[: len(data) - cut % 8]  # sometimes truncated
    _feed_all(pair.resp, _chunks(bytes(data), cuts))
    if not edits and cut % 8 == 0:
        assert pair.resp.state is State.CLOSED  # the EOF after the frames
        assert pair.errors["resp"] is None


@FUZZ
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_arbitrary_bytes_into_a_responder_handshake(data: bytes, cuts: list[int]) -> None:
    conn = make("responder")
    conn.start()
    _feed_all(conn, _chunks(data, cuts))


@FUZZ
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_arbitrary_bytes_into_an_initiator_handshake(data: bytes, cuts: list[int]) -> None:
    conn = make("initiator")
    conn.start()
    _feed_all(conn, _chunks(data, cuts))


@FUZZ
@given(
    which=st.sampled_from(["msg1", "msg2", "msg3"]),
    edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)), min_size=1, max_size=3),
    cuts=st.lists(st.integers(0, 999), max_size=5),
)
def test_mutated_handshake(which: str, edits: list[tuple[int, int]], cuts: list[int]) -> None:
    pair = Pair.new().start()
    msg1 = pair.init.data_to_send()
    target = pair.resp
    data = msg1
    if which != "msg1":
        pair.resp.receive_data(msg1)
        data, target = pair.resp.data_to_send(), pair.init
        if which == "msg3":
            pair.init.receive_data(data)
            data, target = pair.init.data_to_send(), pair.resp
    mutated = bytearray(data)
    for pos, xor in edits:
        mutated[pos % len(mutated)] ^= xor
    _feed_all(target, _chunks(bytes(mutated), cuts))
