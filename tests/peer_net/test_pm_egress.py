"""Egress shaping: we never send a peer more announcements than its own limits let through."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from svc_util import FAST, TNode, arun, running, until

from agora.peer_net.handlers import AppCode, HandlerContext, egress_limits, rate_limits
from agora.peer_net.handlers.table import EGRESS_SHARE
from agora.peer_net.peers import PeerLimits, Peers
from agora.peer_net.ratelimit import Bucket, Limit, RateLimiter
from agora.peer_net.router import Router

T0 = 1_700_000_000.0
A, B, C = (bytes([i]) * 32 for i in range(1, 4))


class _Nothing:
    def send_nowait(self, item: object, /) -> None:
        pass


def test_egress_limits_are_a_share_of_the_peers_announcement_buckets() -> None:
    ingress, egress = rate_limits(), egress_limits()
    assert set(egress) == {c for c, lim in ingress.items() if isinstance(lim, Bucket)}
    vote_in, vote_out = ingress[AppCode.VOTE], egress[AppCode.VOTE]
    assert isinstance(vote_in, Bucket) and isinstance(vote_out, Bucket)
    assert vote_out == Bucket(vote_in.rate * EGRESS_SHARE, vote_in.burst * EGRESS_SHARE)
    assert AppCode.BLOCKS_REQUEST not in egress  # requests have in-flight limits instead
    lifted = egress_limits({AppCode.TEST_DIRECT: None})
    assert AppCode.TEST_DIRECT not in lifted and AppCode.TEST_GOSSIP in lifted


def _router() -> Router:
    peers = Peers(PeerLimits(), None, T0)
    ctx = HandlerContext({}, _Nothing())  # type: ignore[arg-type]
    limits: dict[int, Limit] = {AppCode.VOTE: Bucket(rate=10, burst=5)}
    return Router(peers, ctx, egress=RateLimiter(limits))


def test_a_relay_never_goes_over_a_peers_bucket_and_skipped_peers_may_get_it_later() -> None:
    r = _router()
    sent = {A: 0, B: 0}
    for i in range(8):
        _, targets = r.broadcast(AppCode.VOTE, b"v%d" % i, [A, B], T0, exclude=None)
        for p in targets:
            sent[p] += 1
    assert sent == {A: 5, B: 5}  # the burst, then nothing until tokens come back
    assert r.egress.limited[AppCode.VOTE] == 6
    assert not r.gossip.has(A, r.gossip.outbound(AppCode.VOTE, b"v7", T0).key)  # not marked
    _, targets = r.broadcast(AppCode.VOTE, b"v7", [A, B, C], T0 + 0.15, exclude=C)
    assert targets == [A, B]  # a token back for each after 0.15 s at 10/s
    assert not r.may_send(A, AppCode.VOTE, T0 + 0.15)  # and spent
    assert r.may_send(A, AppCode.TEST_REQUEST, T0)  # requests are not shaped here
    r.on_peer_down(A, T0)
    assert r.may_send(A, AppCode.VOTE, T0 + 0.15)  # forgotten with the peer: a full bucket


def test_an_actor_bursting_sends_is_shaped_and_the_peer_never_penalizes_us(
    tmp_path: Path,
) -> None:
    slow = replace(FAST, rate_overrides={AppCode.TEST_DIRECT: Bucket(rate=100, burst=200)})

    async def main() -> None:
        n = TNode(tmp_path / "n", settings=slow)
        async with running(n):
            p = TNode(tmp_path / "p", bootstrap=(n.addr,), settings=slow)
            async with running(p):
                await until(lambda: n.peer_ids() == {p.id} and p.peer_ids() == {n.id})
                for i in range(600):  # three times the burst, at once
                    await p.actor.send_to(n.id, f"burst {i}")
                await until(lambda: p.net.counters()["shaped_out"] >= 300, what="shaping")
                await until(lambda: len(n.actor.direct_log) >= 180, what="the burst's share")
                got = [t for _, t in n.actor.direct_log]
                assert got == [f"burst {i}" for i in range(len(got))]  # the first ones, in order
                assert len(got) < 300
                assert n.net.router.limiter.limited.get(AppCode.TEST_DIRECT, 0) == 0
                assert n.peer_ids() == {p.id} and p.peer_ids() == {n.id}

    arun(main())
