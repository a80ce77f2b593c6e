"""The peer set: slots, behaviour scores and bans (the seed's `peers`).

Pure and clock-injected: every call that needs the time takes `now`, in
wall-clock seconds (`time.time()`), since bans are written to disk and read
back after a restart.

Scores: each misbehaviour adds its penalty to the peer's score, and the score
halves every `score_half_life_s`. A score that reaches `ban_threshold`, or a
single penalty of `INSTANT_BAN` or more (a protocol violation), bans the peer
for `ban_seconds`, doubled for each earlier ban within a day, up to
`max_ban_seconds`. See docs/peer_net.md.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from agora.errors import LocalError, RemoteError
from agora.logs import Log
from agora.peer_net.addr import host_of
from agora.peer_net.bans import Ban, BanList

INSTANT_BAN = 100  # the penalty of a protocol violation (violations.BAN)
MAX_SCORES = 10_000  # scores outlive connections, so reconnecting does not wipe them
_log = Log("agora.peer_net.peers")


@dataclass(frozen=True, slots=True)
class PeerLimits:
    max_inbound: int = 40
    max_outbound: int = 10
    ban_threshold: float = 100.0
    score_half_life_s: float = 300.0
    ban_seconds: float = 600.0
    max_ban_seconds: float = 7 * 24 * 3600.0
    ban_loopback_ips: bool = False


@dataclass(frozen=True, slots=True)
class ConnectedPeer:
    peer_id: bytes
    addr: str  # the socket address, "ip:port"
    inbound: bool
    since: float
    score: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `record_behaviour` decided: the score now, and the ban if there is one."""

    score: float
    ban: Ban | None = None

    @property
    def banned(self) -> bool:
        return self.ban is not None


@dataclass(slots=True)
class _Peer:
    addr: str
    ip: str
    inbound: bool
    since: float


class Peers:
    def __init__(self, limits: PeerLimits, ban_file: Path | None, now: float) -> None:
        self.limits = limits
        self.bans = BanList(ban_file, now, ban_loopback_ips=limits.ban_loopback_ips)
        self._peers: dict[bytes, _Peer] = {}
        self._scores: OrderedDict[bytes | str, tuple[float, float]] = OrderedDict()
        self._decay = math.log(2) / limits.score_half_life_s

    # --- the set ---

    def add_peer(self, peer_id: bytes, addr: str, inbound: bool, now: float) -> None:
        ip = host_of(addr)
        ban = self.bans.lookup(peer_id, ip, now)
        if ban is not None:
            raise RemoteError(f"banned until {ban.until:.0f}: {ban.reason}", code="peer_banned")
        if peer_id in self._peers:
            raise RemoteError("already connected to this node", code="duplicate_peer")
        if inbound and self.inbound_count >= self.limits.max_inbound:
            raise RemoteError("no free inbound slot", code="too_many_inbound")
        if not inbound and self.outbound_count >= self.limits.max_outbound:
            raise RemoteError("no free outbound slot", code="too_many_outbound")
        self._peers[peer_id] = _Peer(addr, ip, inbound, now)
        _log.info("peer_added", peer=peer_id, addr=addr, inbound=inbound)

    def remove_peer(self, peer_id: bytes, reason: str) -> ConnectedPeer | None:
        p = self._peers.pop(peer_id, None)
        if p is None:
            return None
        _log.info("peer_removed", peer=peer_id, addr=p.addr, inbound=p.inbound, reason=reason)
        score = self._scores.get(peer_id, (0.0, 0.0))[0]  # as of its last change: no `now` here
        return ConnectedPeer(peer_id, p.addr, p.inbound, p.since, score)

    def is_connected(self, peer_id: bytes) -> bool:
        return peer_id in self._peers

    def get(self, peer_id: bytes, now: float) -> ConnectedPeer | None:
        p = self._peers.get(peer_id)
        if p is None:
            return None
        return ConnectedPeer(peer_id, p.addr, p.inbound, p.since, self.score(peer_id, now))

    def peers(self, now: float) -> list[ConnectedPeer]:
        """The connected peers, oldest first."""
        out = [
            ConnectedPeer(pid, p.addr, p.inbound, p.since, self.score(pid, now))
            for pid, p in self._peers.items()
        ]
        return sorted(out, key=lambda c: (c.since, c.peer_id))

    @property
    def inbound_count(self) -> int:
        return sum(1 for p in self._peers.values() if p.inbound)

    @property
    def outbound_count(self) -> int:
        return len(self._peers) - self.inbound_count

    def free_outbound(self) -> int:
        return max(0, self.limits.max_outbound - self.outbound_count)

    def allow_inbound(self, ip: str, now: float) -> bool:
        """For the server's `allow_connection`: IP not banned and an inbound slot free."""
        return (
            self.bans.lookup(None, ip, now) is None and self.inbound_count < self.limits.max_inbound
        )

    # --- bans and scores ---

    def is_banned(self, peer_id: bytes | None = None, ip: str | None = None, *, now: float) -> bool:
        return self.bans.lookup(peer_id, ip, now) is not None

    def ban(
        self, peer_id: bytes | None, ip: str | None, reason: str, duration: float, now: float
    ) -> Ban | None:
        """Ban at once (saved to disk); None if there was nothing to ban (a loopback IP)."""
        b = self.bans.ban(peer_id, ip, reason, duration, now)
        if b is not None:
            _log.warning(
                "peer_banned", peer=peer_id, ip=b.ip, reason=reason, seconds=round(duration, 1)
            )
            if peer_id is not None:
                self._scores.pop(peer_id, None)
            if ip is not None:
                self._scores.pop(ip, None)
        return b

    def score(self, key: bytes | str, now: float) -> float:
        entry = self._scores.get(key)
        if entry is None:
            return 0.0
        value, at = entry
        return value * math.exp(-self._decay * max(0.0, now - at))

    def record_behaviour(
        self,
        peer_id: bytes | None,
        event_code: str,
        penalty: int,
        now: float,
        *,
        ip: str | None = None,
    ) -> Verdict:
        """Add a penalty; ban when the score reaches the threshold or it is a violation.

        Without a node id (before the handshake) the score is kept by IP.
        """
        if penalty < 0:
            raise LocalError(f"penalty must be >= 0, not {penalty}", code="bad_penalty")
        if ip is None and peer_id is not None and (p := self._peers.get(peer_id)) is not None:
            ip = p.ip
        key: bytes | str | None = peer_id if peer_id is not None else ip
        if key is None:
            raise LocalError("record_behaviour needs a node id or an IP", code="bad_penalty")
        active = self.bans.lookup(peer_id, self.bans.bannable_ip(ip), now)
        if active is not None:
            return Verdict(self.score(key, now), active)
        score = self.score(key, now) + penalty
        if penalty >= INSTANT_BAN or score >= self.limits.ban_threshold:
            prior = min(self.bans.offences(peer_id, ip, now), 30)
            duration = min(self.limits.ban_seconds * 2.0**prior, self.limits.max_ban_seconds)
            b = self.ban(peer_id, ip, event_code, duration, now)
            if b is not None:
                return Verdict(score, b)
        self._scores[key] = (score, now)
        self._scores.move_to_end(key)
        while len(self._scores) > MAX_SCORES:
            self._scores.popitem(last=False)
        if penalty:
            _log.debug("peer_penalized", peer=peer_id, ip=ip, reason=event_code, score=score)
        return Verdict(score)
