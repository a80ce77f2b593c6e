"""The pure packet path between connections and actors: checks, limits, gossip, routing.

`Router.on_packet()` takes one packet a `Connection` decrypted and does, in
order: the code's route and its flags and size (`check_inbound`); for a
response, the request tracker (late: dropped quietly; unsolicited: a
violation); for the rest, the rate limit and, for gossip, the seen-cache;
then the handler, which answers negotiation itself or forwards to the owning
actor's channel. A RemoteError out of it is the peer's fault: the service
records it with `Peers.record_behaviour(peer, e.code, e.penalty, now)` and
closes the connection if the verdict is a ban.

Outgoing, it marshals gossip once and picks who gets it, and registers
requests. The service owns the sockets, the connections and the clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from agora.errors import LocalError, RemoteError
from agora.peer_net.gossip import Gossip, MarshalledPacket
from agora.peer_net.handlers.forward import Handler, HandlerContext
from agora.peer_net.handlers.switcher import Route, check_inbound, dispatch, dispatch_response
from agora.peer_net.handlers.table import TABLE, Kind, egress_limits, rate_limits
from agora.peer_net.messages import Inbound
from agora.peer_net.peers import Peers
from agora.peer_net.ratelimit import RATE_LIMITED, RateLimiter
from agora.peer_net.requests import Late, Pending, RequestTracker, Unsolicited


class Outcome(StrEnum):
    DELIVERED = "delivered"  # a handler took it
    NOT_TAKEN = "not_taken"  # no actor for this code on this node
    DUPLICATE = "duplicate"  # gossip seen before
    RATE_LIMITED = "rate_limited"  # over the peer's limit: dropped, and it cost the peer
    LATE = "late"  # a response after its request timed out


class Router:
    def __init__(
        self,
        peers: Peers,
        ctx: HandlerContext,
        *,
        limiter: RateLimiter | None = None,
        tracker: RequestTracker | None = None,
        gossip: Gossip | None = None,
        egress: RateLimiter | None = None,
    ) -> None:
        self.peers = peers
        self.ctx = ctx
        self.limiter = limiter if limiter is not None else RateLimiter(rate_limits(), peers)
        # what we send: never more announcements than a peer's own limits let through
        self.egress = egress if egress is not None else RateLimiter(egress_limits())
        self.tracker = tracker if tracker is not None else RequestTracker()
        self.gossip = gossip if gossip is not None else Gossip()

    # --- inbound ---

    def on_packet(
        self,
        peer_id: bytes,
        code: int,
        msg_id: int,
        is_request: bool,
        is_response: bool,
        body: bytes | memoryview,
        now: float,
    ) -> Outcome:
        entry = _INBOUND.get(code)
        # The common case checked inline (flags as the bools a Connection gives);
        # check_inbound says what is wrong, or passes other truthy flags.
        if (
            entry is None
            or entry.request is not is_request
            or entry.response is not is_response
            or len(body) > entry.max_body
        ):
            check_inbound(code, is_request=is_request, is_response=is_response, body_len=len(body))
            entry = _INBOUND[code]
            is_request, is_response = entry.request, entry.response
        route = entry.route
        if is_response:
            r = self.tracker.resolve(peer_id, msg_id, now, code)
            if isinstance(r, Unsolicited):
                raise r.error()
            if isinstance(r, Late):
                return Outcome.LATE
            msg = Inbound(peer_id, code, bytes(body), msg_id, False)
            return self._taken(dispatch_response(self.ctx, route, msg, r))
        if not self.limiter.allow(peer_id, code, now):
            if self.peers.is_banned(peer_id, now=now):
                raise RemoteError(f"banned for flooding {route.spec.name}", code=RATE_LIMITED)
            return Outcome.RATE_LIMITED
        if entry.gossip and not self.gossip.receive(peer_id, code, body, now):
            return Outcome.DUPLICATE
        msg = Inbound(peer_id, code, bytes(body), msg_id, is_request)
        handler = entry.handler
        if handler is None:
            return self._taken(dispatch(self.ctx, route, msg))  # raises no_handler
        if not is_request:
            return DELIVERED if handler(self.ctx, msg) else NOT_TAKEN
        try:
            taken = handler(self.ctx, msg)
        except RemoteError:
            self.limiter.release(peer_id, code)
            raise
        if not taken:
            self.limiter.release(peer_id, code)  # nobody will answer it
        return self._taken(taken)

    @staticmethod
    def _taken(taken: bool) -> Outcome:
        return Outcome.DELIVERED if taken else Outcome.NOT_TAKEN

    def on_peer_down(self, peer_id: bytes, now: float) -> list[Pending]:
        """Forget a peer; its pending requests are returned to fail `peer_disconnected`."""
        self.limiter.forget(peer_id)
        self.egress.forget(peer_id)
        self.gossip.forget_peer(peer_id)
        return self.tracker.drop_peer(peer_id, now)

    def expire(self, now: float) -> list[Pending]:
        """Requests that timed out (fail them with `timeout`)."""
        return self.tracker.expire(now)

    # --- outbound ---

    def broadcast(
        self, code: int, body: bytes, peers: Iterable[bytes], now: float, exclude: bytes | None
    ) -> tuple[MarshalledPacket, list[bytes]]:
        """Marshal once; the peers to send it to (each gets it at most once).

        A peer we have sent this code up to its limit lately is left out.
        """
        packet = self.gossip.outbound(code, body, now)
        if code not in self.egress.limits:
            return packet, self.gossip.fanout(packet, peers, exclude)
        egress = self.egress

        def allow(peer_id: bytes) -> bool:
            return egress.allow(peer_id, code, now)

        return packet, self.gossip.fanout(packet, peers, exclude, allow)

    def may_send(self, peer_id: bytes, code: int, now: float) -> bool:
        """Whether one more announcement of `code` to `peer_id` stays within its limit."""
        return code not in self.egress.limits or self.egress.allow(peer_id, code, now)

    def start_request(
        self, peer_id: bytes, code: int, now: float, timeout: float, req_id: int | None = None
    ) -> int:
        """Register a request to `peer_id`; the msg_id to send it with."""
        spec = TABLE.get(code)
        if spec is None or spec.kind is not Kind.REQUEST:
            raise LocalError(f"code {code} is not a request", code="not_a_request")
        return self.tracker.new(peer_id, code, now, timeout, req_id=req_id, expect=spec.response)

    def responded(self, peer_id: bytes, code: int) -> None:
        """We answered a request of this peer with `code`: its in-flight slot is free."""
        spec = TABLE.get(code)
        if spec is None or spec.kind is not Kind.RESPONSE or spec.answers is None:
            raise LocalError(f"code {code} is not a response", code="not_a_response")
        self.limiter.release(peer_id, spec.answers)

    @staticmethod
    def pick_peer(peers: Iterable[bytes], rng: random.Random) -> bytes | None:
        """A peer for `Request(peer_id=None)`; None if there is none."""
        ids = sorted(peers)
        return rng.choice(ids) if ids else None


@dataclass(frozen=True, slots=True)
class _Entry:
    """What `on_packet` needs of a code, flattened for the per-packet path."""

    route: Route
    request: bool
    response: bool
    max_body: int
    gossip: bool
    handler: Handler | None


_INBOUND = {
    code: _Entry(
        Route(spec),
        spec.kind is Kind.REQUEST,
        spec.kind is Kind.RESPONSE,
        spec.max_body,
        spec.gossip,
        spec.handler,
    )
    for code, spec in TABLE.items()
}
DELIVERED, NOT_TAKEN = Outcome.DELIVERED, Outcome.NOT_TAKEN
