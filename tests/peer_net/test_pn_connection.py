"""Pairs of Connections in memory, driven from both roles."""

from __future__ import annotations

import pytest
from pn_util import NETWORK, Pair, make

from agora import PROTOCOL_VERSION
from agora.errors import LocalError
from agora.peer_net.codes import PacketCode
from agora.peer_net.connection import (
    Connection,
    Disconnected,
    HandshakeComplete,
    PacketReceived,
    State,
)
from agora.peer_net.identity import NodeKey


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_handshake_and_peer_info(chunk: int | None) -> None:
    ki, kr = NodeKey.generate(), NodeKey.generate()
    pair = Pair(make("initiator", ki), make("responder", kr)).connect(chunk)
    assert pair.init.state is State.READY and pair.resp.state is State.READY
    (ei,) = pair.take("init")
    (er,) = pair.take("resp")
    assert isinstance(ei, HandshakeComplete) and isinstance(er, HandshakeComplete)
    assert ei.peer.identity_key == kr.node_id and er.peer.identity_key == ki.node_id
    assert ei.peer.listen == "127.0.0.1:9001" and er.peer.listen == "127.0.0.1:9000"
    assert ei.peer.network == NETWORK and ei.peer.version == PROTOCOL_VERSION
    assert pair.init.peer == ei.peer and pair.resp.peer == er.peer
    # 3 handshake messages on the wire, 2-byte length first: e | e,ee,s,es,Hello | s,se,Hello
    first = pair.wire["init"][0]
    assert first[:2] == b"\x00\x20" and len(first) == 34


@pytest.mark.parametrize("chunk", [None, 1, 5])
def test_packets_both_ways(chunk: int | None) -> None:
    pair = Pair.new().connect()
    pair.take("init"), pair.take("resp")
    bodies = [b"", b"x", bytes(range(256)) * 8]
    for i, body in enumerate(bodies):
        assert pair.init.send_packet(16 + i, body)
        assert pair.resp.send_packet(PacketCode.PING, body[::-1], msg_id=i)
    pair.pump(chunk)
    got_r = pair.take("resp")
    got_i = pair.take("init")
    assert [(e.header.code, e.body) for e in got_r if isinstance(e, PacketReceived)] == [
        (16 + i, b) for i, b in enumerate(bodies)
    ]
    assert [
        (e.header.code, e.header.msg_id, e.body) for e in got_i if isinstance(e, PacketReceived)
    ] == [(PacketCode.PING, i, b[::-1]) for i, b in enumerate(bodies)]
    # queued together: one BATCH frame, so one nonce for all three
    assert [e.header.nonce for e in got_r if isinstance(e, PacketReceived)] == [0, 0, 0]
    assert len(got_r) == 3 and len(got_i) == 3


def test_many_packets_in_one_receive() -> None:
    pair = Pair.new().connect()
    pair.take("resp")
    for i in range(50):
        pair.init.send_packet(PacketCode.PING, i.to_bytes(4, "big"))
    events = pair.resp.receive_data(pair.init.data_to_send())
    assert [bytes(e.body) for e in events if isinstance(e, PacketReceived)] == [
        i.to_bytes(4, "big") for i in range(50)
    ]


def test_request_response_flags() -> None:
    pair = Pair.new().connect()
    pair.take("init"), pair.take("resp")
    pair.init.send_packet(PacketCode.PEX_REQUEST, b"q", msg_id=42, response_handler=True)
    pair.pump()
    (req,) = pair.take("resp")
    assert isinstance(req, PacketReceived)
    assert req.header.response_handler and not req.header.is_response and req.header.msg_id == 42
    pair.resp.send_packet(PacketCode.PEX_RESPONSE, b"a", msg_id=42, is_response=True)
    pair.pump()
    (res,) = pair.take("init")
    assert isinstance(res, PacketReceived)
    assert res.header.is_response and not res.header.response_handler
    assert res.header.msg_id == 42 and res.body == b"a"
    with pytest.raises(LocalError) as err:
        pair.init.send_packet(20, b"", response_handler=True, is_response=True)
    assert err.value.code == "bad_flags"


@pytest.mark.parametrize("closer", ["init", "resp"])
def test_disconnect_with_reason_both_ways(closer: str) -> None:
    pair = Pair.new().connect()
    pair.take("init"), pair.take("resp")
    other = "resp" if closer == "init" else "init"
    a = pair.init if closer == "init" else pair.resp
    b = pair.resp if closer == "init" else pair.init
    a.send_packet(PacketCode.PING, b"last words")
    a.close("shutting_down", "node is stopping")
    assert a.state is State.CLOSED
    a.close("again", "")  # idempotent
    pair.pump()
    events = pair.take(other)
    assert isinstance(events[0], PacketReceived) and events[0].body == b"last words"
    assert events[1:] == [Disconnected("shutting_down", "node is stopping", by_peer=True)]
    assert b.state is State.CLOSED
    assert b.receive_data(b"late bytes") == []
    with pytest.raises(LocalError) as err:
        b.send_packet(PacketCode.PING, b"")
    assert err.value.code == "not_ready"


def _version_pair(refuser_role: str) -> Pair:
    # The refuser speaks version 1 only; the other speaks 2 and still accepts 1.
    strict = {"version": 1}
    lenient = {"version": 2, "accept_versions": {1, 2}}
    if refuser_role == "initiator":
        return Pair.new(init_kw=strict, **lenient)
    return Pair.new(init_kw=lenient, **strict)


@pytest.mark.parametrize("refuser", ["initiator", "responder"])
def test_incompatible_version_refused_with_reason(refuser: str) -> None:
    pair = _version_pair(refuser).start().pump()
    me, other = ("init", "resp") if refuser == "initiator" else ("resp", "init")
    err = pair.errors[me]
    assert err is not None and err.code == "incompatible_version" and err.penalty == 0
    assert pair.errors[other] is None
    events = pair.take(other)
    assert isinstance(events[0], HandshakeComplete)
    last = events[-1]
    assert isinstance(last, Disconnected) and last.by_peer
    assert last.code == "incompatible_version" and "version 2" in last.message
    assert pair.init.state is State.CLOSED and pair.resp.state is State.CLOSED


@pytest.mark.parametrize("chunk", [None, 1])
def test_wrong_network_refused_by_both_with_reason_on_the_wire(chunk: int | None) -> None:
    pair = Pair.new(init_kw={"network": "net-a"}, network="net-b").start().pump(chunk)
    # Both see the mismatch: the initiator at message 2, the responder at message 3.
    for name in ("init", "resp"):
        err = pair.errors[name]
        assert err is not None and err.code == "wrong_network" and err.penalty == 0
    assert "net-a" in str(pair.errors["init"]) and "net-b" in str(pair.errors["init"])
    assert pair.init.state is State.CLOSED and pair.resp.state is State.CLOSED
    # What the initiator sent after message 3 is an encrypted DISCONNECT saying why.
    sent = b"".join(pair.wire["init"][1:])
    msg3_len = int.from_bytes(sent[:2], "big")
    frame = sent[2 + msg3_len :]
    session = pair.resp.session
    assert session is not None
    header, body = session.open(frame)
    assert header.code == PacketCode.DISCONNECT
    from agora.peer_net.negotiation import decode_disconnect

    reason = decode_disconnect(body)
    assert reason.code == "wrong_network" and "net-a" in reason.message


def test_self_connection_refused() -> None:
    key = NodeKey.generate()
    pair = Pair(make("initiator", key), make("responder", key)).start().pump()
    assert pair.errors["init"] is not None and pair.errors["init"].code == "self_connection"
    assert pair.errors["resp"] is not None and pair.errors["resp"].code == "self_connection"


def test_reset_and_reuse() -> None:
    pair = Pair.new().connect()
    pair.init.close("bye", "")
    pair.pump()
    assert pair.take("resp")[-1] == Disconnected("bye", "", by_peer=True)
    for conn in (pair.init, pair.resp):
        conn.reset()
        assert conn.state is State.NEW and conn.peer is None and conn.data_to_send() == b""
    pair.events = {"init": [], "resp": []}
    pair.connect(chunk=3)
    pair.init.send_packet(PacketCode.PING, b"again")
    pair.pump()
    events = pair.take("resp")
    assert isinstance(events[0], HandshakeComplete)
    assert isinstance(events[1], PacketReceived) and events[1].header.nonce == 0


def test_transition_table() -> None:
    conn = make("initiator")
    with pytest.raises(LocalError) as err:
        conn.reset()
    assert err.value.code == "bad_transition"
    with pytest.raises(LocalError):
        conn.receive_data(b"x")
    with pytest.raises(LocalError):
        conn.send_packet(PacketCode.PING, b"")
    conn.start()
    assert conn.state is State.INIT
    with pytest.raises(LocalError) as err:
        conn.start()
    assert err.value.code == "bad_transition"
    conn.close()
    assert conn.state is State.CLOSED and conn.data_to_send()[:2] == b"\x00\x20"  # message 1 only
    with pytest.raises(LocalError):
        conn.start()
    conn.reset()
    assert conn.state is State.NEW


def test_eof() -> None:
    pair = Pair.new().connect()
    assert pair.resp.receive_eof() == [
        Disconnected("eof", "the peer closed the connection", by_peer=True)
    ]
    assert pair.resp.state is State.CLOSED and not pair.resp.wants_read
    assert pair.resp.receive_eof() == []
    conn = make("responder")
    conn.start()
    (ev,) = conn.receive_eof()
    assert isinstance(ev, Disconnected) and ev.code == "eof" and "handshake" in ev.message


def test_outgoing_budget_refuses_without_using_a_nonce() -> None:
    pair = Pair(make("initiator", max_frame=1000, out_budget=3000), make("responder")).connect()
    pair.take("resp")
    sent = 0
    for _ in range(10):
        if not pair.init.send_packet(20, bytes(900)):
            break
        sent += 1
    assert sent == 3  # 3 x 935 bytes fit in 3000, a 4th does not
    assert pair.init.outgoing_size == 3 * 935
    pair.pump()  # drains the queue
    assert pair.init.send_packet(20, b"after")
    pair.pump()
    events = pair.take("resp")
    assert [e.header.nonce for e in events if isinstance(e, PacketReceived)] == [0, 1, 2, 3]
    assert pair.errors == {"init": None, "resp": None}
    with pytest.raises(LocalError) as err:
        pair.init.send_packet(20, bytes(1001))
    assert err.value.code == "body_too_large"


def test_send_nonce_limit_closes_with_rekey_required() -> None:
    pair = Pair.new().connect()
    pair.take("resp")
    assert pair.init.session is not None and pair.resp.session is not None
    pair.init.session.send_nonce = 2**63 - 2
    pair.resp.session.recv_nonce = 2**63 - 2
    assert pair.init.send_packet(20, b"the last data packet")
    with pytest.raises(LocalError) as err:
        pair.init.send_packet(20, b"one too many")
    assert err.value.code == "rekey_required"
    assert pair.init.state is State.CLOSED
    pair.pump()
    events = pair.take("resp")
    assert isinstance(events[0], PacketReceived) and events[0].header.nonce == 2**63 - 2
    assert isinstance(events[1], Disconnected) and events[1].code == "rekey_required"


def test_config_checks() -> None:
    with pytest.raises(LocalError):
        make("initiator", max_frame=1000, in_budget=500)
    with pytest.raises(LocalError):
        make("initiator", max_frame=1000, out_budget=500)
    with pytest.raises(LocalError):
        Connection("server", NodeKey.generate(), NETWORK, 1, "")  # type: ignore[arg-type]
