"""Fuzz the HTTP/WebSocket handler's data_received: clean answers or AgoraError, nothing else."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.errors import AgoraError
from agora.rpc.app import RpcConfig
from agora.rpc.http import HttpHandler
from agora.rpc.server import RpcServer


class FakeLink:
    """What the handler sees of a connection: writes are kept, closing is recorded."""

    def __init__(self) -> None:
        self.id = 1
        self.addr = ("127.0.0.1", 9)
        self.out = bytearray()
        self.close_reason: str | None = None
        self.reading = True

    def write(self, data: bytes) -> None:
        if self.close_reason is None:
            self.out += data

    def close(self, reason: str = "closed") -> None:
        self.close_reason = self.close_reason or reason

    def abort(self, reason: str = "aborted") -> None:
        self.close(reason)

    @property
    def closing(self) -> bool:
        return self.close_reason is not None

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    write_buffer_size = 0


class Add(msgspec.Struct):
    a: int
    b: int = 0


def _rpc() -> RpcServer:
    rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), max_body=4096, max_header=2048,
                              max_ws_message=2048))  # fmt: skip
    rpc.registry.add("test_add", lambda ctx, p: p.a + p.b, params=Add, result=int)
    return rpc


_RPC = _rpc()  # one app for every example; it never runs, so nothing is shared across tests
_KEY = base64.b64encode(b"0123456789abcdef").decode()
_body = b'{"jsonrpc":"2.0","method":"test_add","params":[1,2],"id":1}'
_PIECES = [
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(_body), _body),
    b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
    b"OPTIONS / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /rpc HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + _KEY.encode() + b"\r\n\r\n",
    b"\x81\x85abcd" + bytes(x ^ k for x, k in zip(b"hello", b"abcdabcd", strict=False)),
    b"\x89\x80abcd",
    b"\x88\x82abcd" + bytes(x ^ k for x, k in zip(b"\x03\xe8", b"ab", strict=True)),
    b"\r\n",
    b"Content-Length: 5\r\n",
]


def _masked_text(text: bytes) -> bytes:
    mask = b"wxyz"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    n = len(text)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + n.to_bytes(2, "big")
    return head + mask + payload


_chunks = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.binary(max_size=40),
        st.builds(_masked_text, st.binary(max_size=300)),
        st.builds(_masked_text, st.sampled_from([_body, b"[]", b"[1]", b"{}", b"\xff"])),
    ),
    max_size=8,
)


def _feed(stream: bytes, cuts: list[int]) -> tuple[FakeLink, Any]:
    link = FakeLink()
    h = HttpHandler(_RPC.app)
    h.connection_made(link)  # type: ignore[arg-type]
    raised: Any = None
    pieces, start = [], 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts):
        pieces.append(stream[start:cut])
        start = cut
    pieces.append(stream[start:])
    for piece in pieces:
        if link.closing:
            break
        try:
            h.data_received(piece)
        except AgoraError as exc:  # the server closes the link on it
            raised = exc
            link.close(exc.code)
    h.connection_lost(None)
    return link, raised


@settings(max_examples=300, deadline=None)
@given(_chunks, st.lists(st.integers(min_value=0), max_size=6))
def test_fuzz_handler_answers_cleanly(chunks: list[bytes], cuts: list[int]) -> None:
    link, raised = _feed(b"".join(chunks), cuts)
    if link.out:
        assert link.out.startswith(b"HTTP/1.1 "), bytes(link.out[:40])
    if raised is not None:
        assert link.closing


def test_a_valid_stream_in_any_split_gets_every_answer() -> None:
    stream = _PIECES[0] * 3
    for step in (1, 7, 64, len(stream)):
        link, raised = _feed(stream, list(range(step, len(stream), step)))
        assert raised is None and not link.closing
        assert link.out.count(b"HTTP/1.1 200 OK") == 3
        assert link.out.count(b'"result":3') == 3


_frames = st.lists(
    st.one_of(
        st.builds(
            _masked_text,
            st.sampled_from([_body, b"[]", b"[1]", b"{}", b"\xff", b"[" + _body + b"]"]),
        ),
        st.builds(_masked_text, st.binary(max_size=200)),
        st.sampled_from(_PIECES[8:11]),
        st.binary(min_size=1, max_size=30),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(_frames, st.lists(st.integers(min_value=0), max_size=6))
def test_fuzz_websocket_frames(frames: list[bytes], cuts: list[int]) -> None:
    link, raised = _feed(_PIECES[7] + b"".join(frames), cuts)
    assert link.out.startswith(b"HTTP/1.1 101 ")
    if raised is not None:
        assert link.closing
