import random

import pytest

from agora.errors import LocalError, RemoteError
from agora.peer_net.codes import PacketCode
from agora.peer_net.handlers import AppCode, HandlerContext, Owner, rate_limits
from agora.peer_net.messages import Inbound, NetEvent, Response
from agora.peer_net.peers import PeerLimits, Peers
from agora.peer_net.ratelimit import Bucket, Limit, RateLimiter
from agora.peer_net.requests import Pending
from agora.peer_net.router import Outcome, Router

T0 = 1_700_000_000.0
A, B, C = (bytes([i]) * 32 for i in range(1, 4))


class ListSink:
    def __init__(self) -> None:
        self.items: list[NetEvent] = []

    def send_nowait(self, item: NetEvent, /) -> None:
        self.items.append(item)


class Net:
    """The service's side: every response it sends frees the request's slot."""

    def __init__(self) -> None:
        self.router: Router | None = None
        self.sent: list[tuple[bytes, int, int]] = []

    def respond(self, peer_id: bytes, msg_id: int, code: int, body: bytes) -> None:
        self.sent.append((peer_id, msg_id, code))
        assert self.router is not None
        self.router.responded(peer_id, code)

    def pex_addresses(self, peer_id: bytes) -> list[str]:
        return []

    def learn_addresses(self, peer_id: bytes, addrs: list[str]) -> None:
        pass

    def pong(self, peer_id: bytes, pending: Pending, body: bytes) -> None:
        pass


def _router(
    overrides: dict[int, Limit | None] | None = None,
) -> tuple[Router, dict[Owner, ListSink], Net]:
    peers = Peers(PeerLimits(), None, T0)
    for i, p in enumerate((A, B, C)):
        peers.add_peer(p, f"127.0.0.1:{7000 + i}", True, T0)
    sinks = {Owner.CONSENSUS: ListSink(), Owner.BLOCKCHAIN: ListSink(), Owner.TEST: ListSink()}
    net = Net()
    limiter = RateLimiter(rate_limits(overrides), peers)
    router = Router(peers, HandlerContext(sinks, net), limiter=limiter)
    net.router = router
    return router, sinks, net


def test_gossip_is_delivered_once_and_relayed_to_the_others() -> None:
    r, sinks, _ = _router()
    assert r.on_packet(A, AppCode.VOTE, 0, False, False, b"vote", T0) is Outcome.DELIVERED
    assert r.on_packet(B, AppCode.VOTE, 0, False, False, b"vote", T0) is Outcome.DUPLICATE
    assert sinks[Owner.CONSENSUS].items == [Inbound(A, AppCode.VOTE, b"vote")]
    packet, targets = r.broadcast(AppCode.VOTE, b"vote", [A, B, C], T0, exclude=A)
    assert packet.is_marshalled and targets == [C]


def test_request_and_response_round_trip() -> None:
    r, sinks, _ = _router()
    msg_id = r.start_request(B, AppCode.BLOCKS_REQUEST, T0, 5.0, req_id=41)
    out = r.on_packet(B, AppCode.BLOCKS_RESPONSE, msg_id, False, True, b"blocks", T0 + 1)
    assert out is Outcome.DELIVERED
    assert sinks[Owner.BLOCKCHAIN].items == [Response(41, B, b"blocks")]
    with pytest.raises(RemoteError) as e:  # a second one is unsolicited
        r.on_packet(B, AppCode.BLOCKS_RESPONSE, msg_id, False, True, b"blocks", T0 + 1)
    assert (e.value.code, e.value.penalty) == ("unsolicited_response", 100)
    with pytest.raises(LocalError):
        r.start_request(B, AppCode.VOTE, T0, 5.0)
    with pytest.raises(LocalError):
        r.responded(B, AppCode.VOTE)


def test_late_response_is_dropped_without_blame() -> None:
    r, sinks, _ = _router()
    msg_id = r.start_request(B, AppCode.STATUS_REQUEST, T0, 1.0, req_id=1)
    assert [p.req_id for p in r.expire(T0 + 2)] == [1]
    out = r.on_packet(B, AppCode.STATUS_RESPONSE, msg_id, False, True, b"s", T0 + 3)
    assert out is Outcome.LATE
    assert sinks[Owner.BLOCKCHAIN].items == []


def test_peer_down_fails_its_requests() -> None:
    r, _, _ = _router()
    r.start_request(B, AppCode.BLOCKS_REQUEST, T0, 5.0, req_id=5)
    r.start_request(C, AppCode.BLOCKS_REQUEST, T0, 5.0, req_id=6)
    assert [p.req_id for p in r.on_peer_down(B, T0)] == [5]
    assert len(r.tracker) == 1


def test_inbound_requests_are_limited_by_in_flight_slots() -> None:
    r, sinks, net = _router()
    for i in range(4):  # BLOCKS_REQUEST allows 4 in flight
        assert r.on_packet(A, AppCode.BLOCKS_REQUEST, i, True, False, b"", T0) is Outcome.DELIVERED
    assert r.on_packet(A, AppCode.BLOCKS_REQUEST, 9, True, False, b"", T0) is Outcome.RATE_LIMITED
    net.respond(A, 0, AppCode.BLOCKS_RESPONSE, b"")  # the chain actor answered one
    assert r.on_packet(A, AppCode.BLOCKS_REQUEST, 9, True, False, b"", T0) is Outcome.DELIVERED
    # negotiation answers at once, so pings never pile up
    for i in range(10):
        assert r.on_packet(A, PacketCode.PING, i, True, False, b"p", T0) is Outcome.DELIVERED
    assert [c for _, _, c in net.sent].count(PacketCode.PONG) == 10
    assert len(sinks[Owner.BLOCKCHAIN].items) == 5


def test_unowned_request_frees_its_slot() -> None:
    r, sinks, _ = _router()
    del sinks[Owner.TEST]
    for i in range(20):
        assert r.on_packet(A, AppCode.TEST_REQUEST, i, True, False, b"", T0) is Outcome.NOT_TAKEN


def test_flood_is_limited_then_ends_in_a_ban() -> None:
    r, sinks, _ = _router({AppCode.TEST_GOSSIP: Bucket(rate=5.0, burst=10.0)})
    outcomes = []
    with pytest.raises(RemoteError) as e:
        for i in range(1000):
            outcomes.append(r.on_packet(A, AppCode.TEST_GOSSIP, 0, False, False, b"%d" % i, T0))
    assert e.value.code == "rate_limited"
    assert outcomes[:10] == [Outcome.DELIVERED] * 10
    assert set(outcomes[10:]) == {Outcome.RATE_LIMITED}
    assert len(sinks[Owner.TEST].items) == 10
    assert r.peers.is_banned(A, now=T0)
    verdict = r.peers.record_behaviour(A, e.value.code, e.value.penalty, T0)
    assert verdict.banned  # what the service does with the error: close the connection
    # a peer at the rate is never limited
    for i in range(50):
        now = T0 + i * 0.2
        out = r.on_packet(B, AppCode.TEST_GOSSIP, 0, False, False, b"b%d" % i, now)
        assert out is Outcome.DELIVERED
    assert not r.peers.is_banned(B, now=T0 + 10)


def test_violations_surface_as_remote_errors() -> None:
    r, _, _ = _router()
    with pytest.raises(RemoteError) as e:
        r.on_packet(A, 99, 0, False, False, b"", T0)
    assert e.value.code == "unknown_code"
    with pytest.raises(RemoteError) as e:
        r.on_packet(A, AppCode.VOTE, 0, False, False, b"x" * 2000, T0)
    assert e.value.code == "body_oversize"
    with pytest.raises(RemoteError) as e:
        r.on_packet(A, PacketCode.PEX_REQUEST, 1, True, False, b"junk", T0)
    assert e.value.code == "body_oversize"
    r.start_request(A, PacketCode.PEX_REQUEST, T0, 5.0)
    with pytest.raises(RemoteError) as e:
        r.on_packet(A, PacketCode.PEX_RESPONSE, 1, False, True, b"\x91\x91\x01", T0)
    assert e.value.code == "bad_pex"


def test_pick_peer_is_deterministic() -> None:
    assert Router.pick_peer([], random.Random(1)) is None
    picks = [Router.pick_peer([C, A, B], random.Random(s)) for s in range(20)]
    assert set(picks) == {A, B, C}
    assert picks == [Router.pick_peer([A, B, C], random.Random(s)) for s in range(20)]
