"""Incoming (bytes to frames) and Outgoing (frames to bytes), on their own."""

from __future__ import annotations

import pytest

from agora.errors import LocalError, RemoteError
from agora.peer_net.incoming import Incoming
from agora.peer_net.outgoing import Outgoing


def frame(body_size: int, fill: int = 0) -> bytes:
    return (31 + body_size).to_bytes(4, "big") + bytes([fill]) * (31 + body_size)


def test_frames_across_chunks() -> None:
    inc = Incoming(max_frame=100, budget=1000)
    data = frame(0, 1) + frame(5, 2) + frame(100, 3)
    out: list[bytes] = []
    for i in range(0, len(data), 3):
        inc.feed(data[i : i + 3])
        out += [bytes(f) for f in inc.frames()]
    assert out == [frame(0, 1), frame(5, 2), frame(100, 3)]
    assert inc.backlog == 0
    inc.eof()  # nothing left over: fine


def test_length_checked_before_the_body() -> None:
    inc = Incoming(max_frame=100, budget=1000)
    inc.feed((131).to_bytes(4, "big"))
    assert inc.next_frame() is None  # the largest legal length: wait for the body
    inc = Incoming(max_frame=100, budget=1000)
    inc.feed((132).to_bytes(4, "big"))
    with pytest.raises(RemoteError) as err:
        inc.next_frame()
    assert err.value.code == "frame_oversize"
    inc = Incoming(max_frame=100, budget=1000)
    inc.feed((30).to_bytes(4, "big"))
    with pytest.raises(RemoteError) as err:
        inc.next_frame()
    assert err.value.code == "frame_undersize"


def test_partial_at_eof() -> None:
    inc = Incoming(max_frame=100, budget=1000)
    inc.feed(frame(10)[:-1])
    assert inc.next_frame() is None and inc.backlog == 44
    with pytest.raises(RemoteError) as err:
        inc.eof()
    assert err.value.code == "frame_truncated"


def test_backlog_and_budget() -> None:
    inc = Incoming(max_frame=100, budget=200)
    inc.feed(frame(100)[:100])
    assert inc.backlog == 100 and not inc.over_budget
    inc.feed(frame(100)[100:] + frame(100)[:70])
    assert inc.backlog == 135 + 70 and inc.over_budget
    assert inc.next_frame() is not None
    assert inc.backlog == 70 and not inc.over_budget
    with pytest.raises(LocalError):
        Incoming(max_frame=100, budget=100)  # could never hold its largest frame


def test_a_kept_view_does_not_break_the_buffer() -> None:
    inc = Incoming(max_frame=100, budget=1000)
    inc.feed(frame(1, 7) + frame(1, 8)[:10])
    kept = inc.next_frame()
    assert kept is not None
    inc.feed(frame(1, 8)[10:])  # the buffer cannot shrink in place: it is copied instead
    assert bytes(kept) == frame(1, 7)
    nxt = inc.next_frame()
    assert nxt is not None and bytes(nxt) == frame(1, 8)


def test_handshake_messages() -> None:
    inc = Incoming(max_frame=100, budget=1000, max_handshake=64)
    inc.feed(b"\x00\x03ab")
    assert inc.next_handshake_message() is None
    inc.feed(b"c\x00\x00" + frame(0)[:3])
    assert inc.next_handshake_message() == b"abc"
    assert inc.next_handshake_message() == b""
    # After the handshake the rest of the stream is frames.
    assert inc.backlog == 3
    inc.feed(frame(0)[3:])
    assert inc.next_frame() is not None and inc.backlog == 0
    inc.feed(b"\x00\x41")
    with pytest.raises(RemoteError) as err:
        inc.next_handshake_message()
    assert err.value.code == "handshake_message_too_long"


def test_outgoing_budget() -> None:
    out = Outgoing(budget=10)
    assert out.push(b"abcd") and out.push(b"ef", memoryview(b"ghij"))
    assert out.size == 10
    assert not out.push(b"k")
    assert out.size == 10
    out.push_control(b"XY")  # control frames go in regardless
    assert out.size == 12
    assert out.take() == b"abcdefghijXY"
    assert out.size == 0 and out.take() == b""
    assert out.push(b"k")


def test_spans_stop_at_a_bad_length_without_losing_earlier_frames() -> None:
    inc = Incoming(max_frame=100, budget=1000)
    inc.feed(frame(0) + frame(3) + (500).to_bytes(4, "big") + b"rest")
    spans, error = inc.spans()
    assert spans == [(0, 35), (35, 73)]
    assert error is not None and error.code == "frame_oversize"
    inc = Incoming(max_frame=100, budget=1000)
    inc.feed(frame(0) + frame(3)[:10])
    spans, error = inc.spans()
    assert spans == [(0, 35)] and error is None and inc.backlog == 10
    inc.feed(frame(3)[10:])
    assert inc.spans() == ([(0, 38)], None)
