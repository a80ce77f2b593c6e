"""Per-client (per IP address) limits of a public RPC port: open connections, and calls
per second through a token bucket. Sans-IO: the clock is passed in.

    limits = ClientLimits(max_connections=32, rate=100.0, burst=200)
    if not limits.connect(ip): refuse          # ... limits.disconnect(ip) when it closes
    wait = limits.take(ip, calls, now)         # 0.0: go on; else seconds until it would pass

Loopback clients (the operator's own tools, the devnet bench) are not limited
unless `limit_loopback`. Buckets are kept for at most `max_tracked` addresses;
the least recently seen ones are forgotten first (a forgotten address starts
with a full bucket, so forgetting only ever errs towards serving).
"""

from __future__ import annotations

from collections import OrderedDict

from agora.peer_net.addr import is_loopback

MAX_TRACKED = 10_000


class ClientLimits:
    def __init__(
        self,
        *,
        max_connections: int,
        rate: float,
        burst: int,
        limit_loopback: bool = False,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.max_connections = max_connections
        self.rate = rate  # calls per second; 0 turns the call limit off
        self.burst = float(max(burst, 1))
        self.limit_loopback = limit_loopback
        self.max_tracked = max_tracked
        self._conns: dict[str, int] = {}
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def exempt(self, ip: str) -> bool:
        return not self.limit_loopback and is_loopback(ip)

    def connections(self, ip: str) -> int:
        return self._conns.get(ip, 0)

    def connect(self, ip: str) -> bool:
        """Count a new connection from `ip`; False (not counted) if it has too many."""
        if self.exempt(ip):
            return True
        n = self._conns.get(ip, 0)
        if n >= self.max_connections:
            return False
        self._conns[ip] = n + 1
        return True

    def disconnect(self, ip: str) -> None:
        """A connection that `connect` counted has closed."""
        n = self._conns.get(ip, 0)
        if n <= 1:
            self._conns.pop(ip, None)
        else:
            self._conns[ip] = n - 1

    def take(self, ip: str, calls: int, now: float) -> float:
        """Spend `calls` tokens of `ip`'s bucket: 0.0 if it had them, else how many seconds
        until it will (nothing is spent then). More than a whole burst never passes."""
        if self.rate <= 0 or self.exempt(ip):
            return 0.0
        buckets = self._buckets
        tokens, at = buckets.pop(ip, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        buckets[ip] = (tokens, now)
        while len(buckets) > self.max_tracked:
            buckets.popitem(last=False)
        if calls <= tokens:
            buckets[ip] = (tokens - calls, now)
            return 0.0
        if calls > self.burst:
            return float("inf")
        return (calls - tokens) / self.rate
