"""BATCH frames: the pinned layout, the checks on every packet in them, and coalescing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pn_util import Pair

from agora.errors import LocalError, RemoteError
from agora.peer_net import batch
from agora.peer_net.codes import PacketCode
from agora.peer_net.connection import Disconnected, PacketReceived, State
from agora.peer_net.crypto_session import CryptoSession
from agora.peer_net.header import HEADER, HEADER_SIZE
from agora.peer_net.outgoing import Chunk, Outgoing

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(FUZZ, max_examples=100)  # structured inputs: fewer cover them
SAMPLE = [(16, 0, 0, b"ab"), (31, 1, 7, b""), (32, 2, 0x01020304, b"xyz")]
SAMPLE_HEX = (
    "0010" "00" "00000000" "00000002" "6162"  # code 16, no flags, msg_id 0, 2 bytes "ab"
    "001f" "01" "00000007" "00000000"  # code 31, a request, msg_id 7, empty
    "0020" "02" "01020304" "00000003" "78797a"  # code 32, a response, "xyz"
)  # fmt: skip


def _fields(p: PacketReceived) -> tuple[int, int, int, bytes]:
    flags = (1 if p.response_handler else 0) | (2 if p.is_response else 0)
    return p.code, flags, p.msg_id, bytes(p.body)


def _bad(body: bytes, code: str = "bad_batch") -> RemoteError:
    with pytest.raises(RemoteError) as err:
        batch.decode(body)
    assert err.value.code == code and err.value.penalty == 100
    return err.value


# --- the layout ---


def test_layout_is_pinned() -> None:
    body = batch.encode(SAMPLE)
    assert body.hex() == SAMPLE_HEX
    got = batch.decode(bytes.fromhex(SAMPLE_HEX), nonce=9, tag=b"T" * 16)
    assert [_fields(p) for p in got] == SAMPLE
    assert all(p.nonce == 9 and p.tag == b"T" * 16 for p in got)
    assert got[1].header.response_handler and got[2].header.is_response


def test_sealed_batch_frame_layout() -> None:
    """A BATCH frame is an ordinary frame: code 6, flags 0, msg_id 0, the batch as its body."""
    session = CryptoSession(bytes(range(32)), bytes(range(32, 64)))
    parts: list[Chunk] = []
    session.seal(PacketCode.BATCH, 0, 0, batch.encode(SAMPLE), parts)
    frame = b"".join(parts)
    length, code, flags, msg_id, nonce, _ = HEADER.unpack_from(frame)
    assert (length, code, flags, msg_id, nonce) == (31 + len(SAMPLE_HEX) // 2, 6, 0, 0, 0)
    header, plain = CryptoSession(bytes(range(32, 64)), bytes(range(32))).open(frame)
    assert header.code == PacketCode.BATCH and plain.hex() == SAMPLE_HEX


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (bytes.fromhex("0010000000000000000002"), "a body past the end"),  # says 2, has 0
        (bytes.fromhex(SAMPLE_HEX)[:-1], "the last body cut short"),
        (bytes.fromhex(SAMPLE_HEX) + b"\x00" * 10, "10 bytes, short of a packet header"),
        (bytes.fromhex("0006000000000000000000"), "a BATCH inside a batch"),
        (bytes.fromhex("0001000000000000000000"), "a DISCONNECT inside a batch"),
        (bytes.fromhex("ffff00ffffffffffffffff"), "an absurd length"),
    ],
)
def test_malformed_batches_are_bad_batch(body: bytes, why: str) -> None:
    _bad(body)


@pytest.mark.parametrize("flags", [0x03, 0x04, 0x80])
def test_bad_flags_inside_a_batch(flags: int) -> None:
    body = batch.encode([(16, 0, 0, b"ok"), (16, flags, 0, b"bad")])
    _bad(body, "bad_flags")


def test_packet_count_is_bounded() -> None:
    assert len(batch.decode(batch.encode([(16, 0, 0, b"")] * batch.MAX_PACKETS))) == 1024
    _bad(batch.encode([(16, 0, 0, b"")] * (batch.MAX_PACKETS + 1)))


_packets = st.lists(
    st.tuples(
        st.integers(7, 2**16 - 1),  # any code but the Connection's own
        st.sampled_from([0, 1, 2]),
        st.integers(0, 2**32 - 1),
        st.binary(max_size=40),
    ),
    min_size=1,
    max_size=20,
)


@FEWER
@given(packets=_packets)
def test_round_trip(packets: list[tuple[int, int, int, bytes]]) -> None:
    assert [_fields(p) for p in batch.decode(batch.encode(packets))] == packets


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_only_raise_remote_errors(data: bytes) -> None:
    try:
        got = batch.decode(data)
    except RemoteError as e:
        assert e.code in {"bad_batch", "bad_flags"} and e.penalty == 100
        return
    assert got and batch.encode([_fields(p) for p in got]) == data  # nothing invented


@FEWER
@given(packets=_packets, edits=st.lists(st.tuples(st.integers(0, 999), st.integers(1, 255))))
def test_mutated_batches(
    packets: list[tuple[int, int, int, bytes]], edits: list[tuple[int, int]]
) -> None:
    data = bytearray(batch.encode(packets))
    for pos, xor in edits:
        data[pos % len(data)] ^= xor
    try:
        got = batch.decode(bytes(data))
    except RemoteError as e:
        assert e.code in {"bad_batch", "bad_flags"}
        return
    assert batch.encode([_fields(p) for p in got]) == bytes(data)


# --- coalescing in a Connection ---


def _ready(**init_kw: object) -> Pair:
    pair = Pair.new(init_kw=dict(init_kw)).connect()
    pair.take("init"), pair.take("resp")
    return pair


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(code, length) of each frame on the wire, from the clear part of its header."""
    out, pos = [], 0
    while pos < len(data):
        length, code, *_ = HEADER.unpack_from(data, pos)
        out.append((code, length))
        pos += 4 + length
    return out


def _deliver(pair: Pair, data: bytes, name: str = "resp") -> None:
    conn = pair.resp if name == "resp" else pair.init
    pair.events[name] += conn.receive_data(data)


def _received(pair: Pair, name: str = "resp") -> list[tuple[int, int, int, bytes]]:
    return [_fields(e) for e in pair.take(name) if isinstance(e, PacketReceived)]


def test_queued_packets_go_in_one_frame_and_a_lone_one_alone() -> None:
    pair = _ready()
    sent = [(16 + i % 3, 0, 0, bytes([i]) * i) for i in range(40)]
    for code, _, _, body in sent:
        assert pair.init.send_packet(code, body)
    assert pair.init.outgoing_size == sum(HEADER_SIZE + len(b) for *_, b in sent)
    data = pair.init.data_to_send()
    assert [c for c, _ in _frames(data)] == [PacketCode.BATCH]
    assert len(data) == HEADER_SIZE + sum(11 + len(b) for *_, b in sent)  # smaller than 40 frames
    _deliver(pair, data)
    assert _received(pair) == sent  # in order
    assert pair.init.send_packet(16, b"alone")
    data = pair.init.data_to_send()
    assert _frames(data) == [(16, 31 + 5)]
    _deliver(pair, data)
    assert _received(pair) == [(16, 0, 0, b"alone")]
    assert pair.init.session is not None and pair.init.session.send_nonce == 2


def test_requests_and_responses_keep_flags_and_msg_ids_inside_a_batch() -> None:
    pair = _ready()
    pair.init.send_packet(PacketCode.PING, b"p1", msg_id=41, response_handler=True)
    pair.init.send_packet(PacketCode.PONG, b"r1", msg_id=7, is_response=True)
    pair.init.send_packet(30, b"gossip")
    pair.init.send_packet(PacketCode.PING, b"p2", msg_id=2**32 - 1, response_handler=True)
    pair.pump()
    assert _received(pair) == [
        (PacketCode.PING, 1, 41, b"p1"),
        (PacketCode.PONG, 2, 7, b"r1"),
        (30, 0, 0, b"gossip"),
        (PacketCode.PING, 1, 2**32 - 1, b"p2"),
    ]
    assert pair.errors == {"init": None, "resp": None}


def test_batches_split_by_size_and_count_and_order_holds() -> None:
    pair = _ready()
    big = bytes(batch.TARGET_BYTES)  # too big to share a batch: goes alone
    sent: list[tuple[int, int, int, bytes]] = []
    sent += [(16, 0, 0, b"%d" % i) for i in range(batch.MAX_PACKETS + 5)]
    sent += [(17, 0, 0, big)]
    sent += [(18, 0, 0, bytes(20_000)) for _ in range(7)]  # about three a batch
    for code, _, _, body in sent:
        assert pair.init.send_packet(code, body)
    data = pair.init.data_to_send()
    frames = _frames(data)
    assert [c for c, _ in frames] == [6, 6, 17, 6, 6, 18]  # 1024 + 5, big, 3 + 3, and 1
    assert all(length - 31 <= batch.TARGET_BYTES for c, length in frames if c == 6)
    for i in range(0, len(data), 70_000):  # any cut of the stream
        _deliver(pair, data[i : i + 70_000])
    assert _received(pair) == sent


def test_batches_never_exceed_a_small_max_frame() -> None:
    pair = _ready(max_frame=1000, out_budget=100_000)
    sent = [(16, 0, 0, bytes(300)) for _ in range(9)]
    for code, _, _, body in sent:
        pair.init.send_packet(code, body)
    data = pair.init.data_to_send()
    assert [length - 31 for _, length in _frames(data)] == [3 * 311] * 3
    _deliver(pair, data)
    assert _received(pair) == sent


def test_close_sends_the_queue_before_the_disconnect() -> None:
    pair = _ready()
    for i in range(3):
        pair.init.send_packet(16, b"last %d" % i)
    pair.init.close("bye", "done")
    pair.pump()
    events = pair.take("resp")
    assert [bytes(e.body) for e in events if isinstance(e, PacketReceived)] == [
        b"last 0",
        b"last 1",
        b"last 2",
    ]
    assert events[-1] == Disconnected("bye", "done", by_peer=True)


def test_budget_counts_queued_packets_and_reset_drops_them() -> None:
    pair = _ready(max_frame=1000, out_budget=3000)
    assert [pair.init.send_packet(16, bytes(900)) for _ in range(4)] == [True] * 3 + [False]
    pair.init.close()
    pair.init.reset()
    assert pair.init.outgoing_size == 0 and pair.init.data_to_send() == b""


def test_the_connections_own_codes_cannot_be_sent() -> None:
    pair = _ready()
    for code in (PacketCode.BATCH, PacketCode.DISCONNECT):
        with pytest.raises(LocalError) as err:
            pair.init.send_packet(code, b"")
        assert err.value.code == "bad_code"


def test_nonce_limit_counts_queued_packets() -> None:
    pair = _ready()
    assert pair.init.session is not None and pair.resp.session is not None
    pair.init.session.send_nonce = pair.resp.session.recv_nonce = 2**63 - 3
    for _ in range(2):
        assert pair.init.send_packet(16, b"x")
    with pytest.raises(LocalError) as err:  # a third might need the DISCONNECT's nonce
        pair.init.send_packet(16, b"y")
    assert err.value.code == "rekey_required" and pair.init.state is State.CLOSED
    pair.pump()
    events = pair.take("resp")
    assert [e.nonce for e in events if isinstance(e, PacketReceived)] == [2**63 - 3] * 2
    assert isinstance(events[-1], Disconnected) and events[-1].code == "rekey_required"


# --- bad batches from a peer close the connection ---


def _seal(pair: Pair, code: int, body: bytes, flags: int = 0, msg_id: int = 0) -> bytes:
    session = pair.init.session
    assert session is not None
    parts: list[Chunk] = []
    session.seal(code, flags, msg_id, body, parts)
    return b"".join(bytes(p) for p in parts)


@pytest.mark.parametrize(
    ("flags", "msg_id", "body", "code"),
    [
        (0, 0, b"", "bad_batch"),
        (0, 0, bytes.fromhex(SAMPLE_HEX)[:-2], "bad_batch"),
        (1, 0, bytes.fromhex(SAMPLE_HEX), "bad_batch"),  # a BATCH is not a request
        (0, 5, bytes.fromhex(SAMPLE_HEX), "bad_batch"),
        (0, 0, batch.encode([(16, 3, 0, b"")]), "bad_flags"),
    ],
)
def test_a_bad_batch_closes_and_tells_the_peer(
    flags: int, msg_id: int, body: bytes, code: str
) -> None:
    pair = _ready()
    good = _seal(pair, 16, b"before")
    bad = _seal(pair, PacketCode.BATCH, body, flags, msg_id)
    with pytest.raises(RemoteError) as err:
        pair.resp.receive_data(good + bad)
    assert err.value.code == code and err.value.penalty == 100
    assert pair.resp.state is State.CLOSED
    (goodbye,) = pair.init.receive_data(pair.resp.data_to_send())
    assert isinstance(goodbye, Disconnected) and goodbye.code == code


def test_a_peer_may_batch_a_single_packet() -> None:
    pair = _ready()
    events = pair.resp.receive_data(_seal(pair, PacketCode.BATCH, batch.encode(SAMPLE[:1])))
    assert [_fields(e) for e in events if isinstance(e, PacketReceived)] == SAMPLE[:1]


def test_the_responder_coalesces_too() -> None:
    pair = _ready()
    for i in range(5):
        pair.resp.send_packet(20 + i, b"r")
    data = pair.resp.data_to_send()
    assert [c for c, _ in _frames(data)] == [PacketCode.BATCH]
    _deliver(pair, data, "init")
    assert [c for c, *_ in _received(pair, "init")] == [20, 21, 22, 23, 24]


def test_outgoing_queue_and_seal_runs_on_their_own() -> None:
    out = Outgoing(budget=200, batch_bytes=45)
    assert out.queue(16, 0, 0, b"a" * 10) and out.queue(17, 1, 5, b"b" * 10)
    assert out.queue(18, 0, 0, b"c" * 30)  # 41 more bytes in a batch: over 45, so alone
    assert out.total == 3 * HEADER_SIZE + 50 and out.size == 0
    assert not out.queue(19, 0, 0, bytes(200 - out.total - HEADER_SIZE + 1))  # one byte over
    calls: list[tuple[int, int, int, bytes]] = []

    def seal(code: int, flags: int, msg_id: int, body: bytes, into: list[Chunk]) -> int:
        calls.append((code, flags, msg_id, body))
        into.append(body)
        return len(body)

    out.seal_pending(seal)
    assert [c[:3] for c in calls] == [(PacketCode.BATCH, 0, 0), (18, 0, 0)]
    assert [_fields(p) for p in batch.decode(calls[0][3])] == [
        (16, 0, 0, b"a" * 10),
        (17, 1, 5, b"b" * 10),
    ]
    assert out.pending == [] and out.pending_size == 0 and out.size == 42 + 30
    assert out.take() == calls[0][3] + b"c" * 30 and out.total == 0


@FEWER
@given(
    packets=st.lists(
        st.tuples(st.integers(16, 40), st.sampled_from([0, 1, 2]), st.integers(0, 9), st.binary()),
        min_size=1,
        max_size=30,
    ),
    limit=st.integers(1, 200),
)
def test_coalesce_keeps_every_packet_in_order_in_greedy_runs(
    packets: list[tuple[int, int, int, bytes]], limit: int
) -> None:
    frames = batch.coalesce(packets, limit)
    runs = [
        [_fields(p) for p in batch.decode(body)]
        if code == PacketCode.BATCH
        else [(code, f, m, body)]
        for code, f, m, body in frames
    ]
    assert [p for run in runs for p in run] == packets
    sizes = [sum(batch.SUB_SIZE + len(p[3]) for p in run) for run in runs]
    for run, size, frame in zip(runs, sizes, frames, strict=True):
        assert (frame[0] == PacketCode.BATCH) == (len(run) > 1)
        assert len(run) == 1 or size <= limit
    for i in range(len(runs) - 1):  # the next packet did not fit the run before it
        assert sizes[i] + batch.SUB_SIZE + len(runs[i + 1][0][3]) > limit
