import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.errors import LocalError
from agora.peer_net.peers import PeerLimits, Peers
from agora.peer_net.ratelimit import RATE_LIMITED, Bucket, InFlight, RateLimiter

T0 = 1_700_000_000.0
GOSSIP, REQ = 30, 31
GOOD, BAD = b"\x01" * 32, b"\x02" * 32


def _limiter(peers: Peers | None = None) -> RateLimiter:
    return RateLimiter({GOSSIP: Bucket(rate=10.0, burst=20.0), REQ: InFlight(2)}, peers)


def test_token_bucket_allows_burst_then_the_rate() -> None:
    rl = _limiter()
    assert all(rl.allow(GOOD, GOSSIP, T0) for _ in range(20))
    assert not rl.allow(GOOD, GOSSIP, T0)
    assert rl.tokens(GOOD, GOSSIP, T0) == pytest.approx(0)
    assert rl.tokens(GOOD, GOSSIP, T0 + 0.25) == pytest.approx(2.5)
    assert rl.allow(GOOD, GOSSIP, T0 + 0.25)
    assert rl.allow(GOOD, GOSSIP, T0 + 0.25)
    assert not rl.allow(GOOD, GOSSIP, T0 + 0.25)
    assert rl.tokens(GOOD, GOSSIP, T0 + 100) == 20  # capped at the burst
    assert rl.limited == {GOSSIP: 2}
    # buckets are per peer
    assert rl.allow(BAD, GOSSIP, T0)


def test_clock_going_backwards_adds_no_tokens() -> None:
    rl = _limiter()
    for _ in range(20):
        rl.allow(GOOD, GOSSIP, T0)
    assert not rl.allow(GOOD, GOSSIP, T0 - 50)


def test_in_flight_limit_per_peer_and_code() -> None:
    rl = _limiter()
    assert rl.allow(GOOD, REQ, T0) and rl.allow(GOOD, REQ, T0)
    assert not rl.allow(GOOD, REQ, T0 + 59)  # time alone does not free a slot...
    assert rl.in_flight(GOOD, REQ) == 2
    rl.release(GOOD, REQ)
    assert rl.in_flight(GOOD, REQ) == 1
    assert rl.allow(GOOD, REQ, T0)
    assert rl.allow(BAD, REQ, T0)
    rl.forget(GOOD)
    assert rl.in_flight(GOOD, REQ) == 0
    rl.release(GOOD, REQ)  # a late answer to a forgotten peer
    assert rl.in_flight(GOOD, REQ) == 0
    assert rl.allow(GOOD, 99, T0)  # codes without a limit (responses) pass


def test_in_flight_slot_lease_ends_if_never_released() -> None:
    rl = RateLimiter({REQ: InFlight(1, lease_s=30.0)})
    assert rl.allow(GOOD, REQ, T0)
    assert not rl.allow(GOOD, REQ, T0 + 29)
    assert rl.allow(GOOD, REQ, T0 + 30)  # ...until the lease runs out: the handler dropped it
    assert rl.in_flight(GOOD, REQ) == 1


def test_flooder_is_limited_then_banned_while_a_steady_peer_is_never_limited() -> None:
    peers = Peers(PeerLimits(), None, T0)
    peers.add_peer(GOOD, "127.0.0.1:1", True, T0)
    peers.add_peer(BAD, "127.0.0.1:2", True, T0)
    rl = _limiter(peers)
    good_refused = bad_allowed = bad_refused = 0
    banned_at = None
    for i in range(2000):  # 2 s of simulated time
        now = T0 + i * 0.001
        if i % 100 == 0 and not rl.allow(GOOD, GOSSIP, now):  # 10/s: the rate
            good_refused += 1
        if banned_at is None:
            if rl.allow(BAD, GOSSIP, now):
                bad_allowed += 1
            else:
                bad_refused += 1
                if peers.is_banned(BAD, now=now):
                    banned_at = i
    assert good_refused == 0
    assert banned_at is not None
    assert bad_allowed == 20  # the burst, then limited: tokens trickle in slower than it sends
    # 50 refusals x penalty 2 reach the threshold of 100, plus one for the score's decay
    assert bad_refused == 51
    assert not peers.is_banned(GOOD, now=T0 + 2)
    ban = peers.bans.lookup(BAD, None, T0 + 2)
    assert ban is not None and ban.reason == RATE_LIMITED


def test_bad_limits_are_local_errors() -> None:
    with pytest.raises(LocalError):
        Bucket(0, 10)
    with pytest.raises(LocalError):
        InFlight(0)
    with pytest.raises(LocalError):
        InFlight(1, lease_s=0)
    with pytest.raises(LocalError):
        _limiter().tokens(GOOD, REQ, T0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 0.5), min_size=1, max_size=200), st.floats(1, 50), st.floats(1, 40))
def test_bucket_never_allows_more_than_burst_plus_rate_times_time(
    gaps: list[float], rate: float, burst: float
) -> None:
    rl = RateLimiter({GOSSIP: Bucket(rate, burst)})
    now, allowed = T0, 0
    for g in gaps:
        now += g
        allowed += rl.allow(GOOD, GOSSIP, now)
    assert allowed <= burst + rate * (now - T0) + 1e-6
