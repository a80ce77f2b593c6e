"""Per-peer rate limits by packet code, never by counts over wall-clock windows.

Announcements (gossip) draw from a token bucket per (peer, code): `rate`
tokens a second up to `burst`, one per packet, so a sender within its rate
and burst is never limited, and a flood is cut down to the rate.
Requests are limited by how many of one code a peer may have in flight with
us at once: a slot is taken when the request arrives and given back when we
answer it (or after a lease, should the handler drop the request). Fixed
windows (N per minute) punish honest bursts at a window's edge and let floods
through at the next one; Chia's sync crawled behind them.

Every refused packet costs the peer `penalty` on its behaviour score, so a
peer that keeps flooding ends up banned while a peer within its limits is
never touched. Times are monotonic or wall seconds: only differences count.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from agora.errors import LocalError

RATE_LIMITED = "rate_limited"
RATE_LIMITED_PENALTY = 2


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens a second
    burst: float  # bucket size

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.burst >= 1):
            raise LocalError(f"bad token bucket {self}", code="bad_config")


@dataclass(frozen=True, slots=True)
class InFlight:
    max: int
    lease_s: float = 60.0  # a slot the handler never gave back is freed after this

    def __post_init__(self) -> None:
        if self.max < 1 or not self.lease_s > 0:
            raise LocalError(f"bad in-flight limit {self}", code="bad_config")


Limit = Bucket | InFlight


class BehaviourSink(Protocol):
    def record_behaviour(
        self, peer_id: bytes | None, event_code: str, penalty: int, now: float
    ) -> object: ...


class _Tokens:
    __slots__ = ("last", "tokens")

    def __init__(self, tokens: float, last: float) -> None:
        self.tokens = tokens
        self.last = last


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[int, Limit],
        behaviour: BehaviourSink | None = None,
        penalty: int = RATE_LIMITED_PENALTY,
    ) -> None:
        self.limits = dict(limits)
        self.behaviour = behaviour
        self.penalty = penalty
        self._buckets: dict[bytes, dict[int, _Tokens]] = {}
        self._in_flight: dict[bytes, dict[int, deque[float]]] = {}  # when each slot was taken
        self.limited: dict[int, int] = {}  # refused packets by code, for metrics

    def allow(self, peer_id: bytes, code: int, now: float) -> bool:
        """Whether to handle this packet; a refusal is also a behaviour event.

        After False, ask the peer set whether the peer is now banned.
        For an in-flight code, a True must be paired with `release()`.
        """
        limit = self.limits.get(code)
        if limit is None:
            return True
        ok = self._take(peer_id, code, limit, now)
        if not ok:
            self.limited[code] = self.limited.get(code, 0) + 1
            if self.behaviour is not None:
                self.behaviour.record_behaviour(peer_id, RATE_LIMITED, self.penalty, now)
        return ok

    def _take(self, peer_id: bytes, code: int, limit: Limit, now: float) -> bool:
        if isinstance(limit, InFlight):
            taken = self._in_flight.setdefault(peer_id, {}).setdefault(code, deque())
            while taken and now - taken[0] >= limit.lease_s:
                taken.popleft()
            if len(taken) >= limit.max:
                return False
            taken.append(now)
            return True
        buckets = self._buckets.setdefault(peer_id, {})
        b = buckets.get(code)
        if b is None:
            b = buckets[code] = _Tokens(limit.burst, now)
        elif now > b.last:
            b.tokens = min(limit.burst, b.tokens + (now - b.last) * limit.rate)
            b.last = now
        if b.tokens < 1:
            return False
        b.tokens -= 1
        return True

    def release(self, peer_id: bytes, code: int) -> None:
        """Give back an in-flight slot; a no-op once the peer is forgotten."""
        taken = self._in_flight.get(peer_id, {}).get(code)
        if taken:
            taken.popleft()  # the oldest: answers mostly come in order

    def in_flight(self, peer_id: bytes, code: int) -> int:
        return len(self._in_flight.get(peer_id, {}).get(code, ()))

    def tokens(self, peer_id: bytes, code: int, now: float) -> float:
        """Tokens a packet of `code` from this peer would find now (for tests and metrics)."""
        limit = self.limits.get(code)
        if not isinstance(limit, Bucket):
            raise LocalError(f"code {code} has no token bucket", code="bad_code")
        b = self._buckets.get(peer_id, {}).get(code)
        if b is None:
            return limit.burst
        return min(limit.burst, b.tokens + max(0.0, now - b.last) * limit.rate)

    def forget(self, peer_id: bytes) -> None:
        """Drop a disconnected peer's state."""
        self._buckets.pop(peer_id, None)
        self._in_flight.pop(peer_id, None)
