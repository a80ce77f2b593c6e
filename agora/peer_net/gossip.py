"""Gossip: each item relayed once, its body marshalled once for every peer.

Flow for an item that arrives from peer P:

1. `Gossip.receive(P, code, body, now)`: False if seen before (drop it);
   either way P is noted as having it.
2. If new, the owning actor gets it, checks it, and asks peer_net to
   `Broadcast(code, body, exclude=P)`.
3. `Gossip.outbound(code, body, now)` builds one `MarshalledPacket`, and
   `fanout(packet, peers, exclude=P)` names the peers still without it: not
   P, not a peer that sent it to us meanwhile, not one we already sent it to.

The seen-cache is keyed by the SHA-256 of the body, bounded in size (oldest
first out) and in age (TTL), so memory stays flat under any flood.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass


def gossip_key(body: bytes | bytearray | memoryview) -> bytes:
    return hashlib.sha256(body).digest()


@dataclass(frozen=True, slots=True)
class MarshalledPacket:
    """One encoded body, shared by every peer it goes to; only encryption is per peer."""

    code: int
    body: bytes
    key: bytes
    is_marshalled: bool = True


class SeenCache:
    """Bounded LRU with TTL. `seen()` asks and records in one step."""

    def __init__(self, max_items: int = 100_000, ttl_s: float = 300.0) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._first_seen: OrderedDict[bytes, float] = OrderedDict()

    def seen(self, key: bytes, now: float) -> bool:
        """True if `key` was seen within the TTL; otherwise record it and return False."""
        self._expire(now)
        at = self._first_seen.get(key)
        if at is not None and now - at < self.ttl_s:
            return True
        self._first_seen.pop(key, None)
        self._first_seen[key] = now
        while len(self._first_seen) > self.max_items:
            self._first_seen.popitem(last=False)
        return False

    def __contains__(self, key: object) -> bool:
        return key in self._first_seen

    def __len__(self) -> int:
        return len(self._first_seen)

    def _expire(self, now: float) -> None:
        # entries are in first-seen order, so the expired ones are at the front
        items = self._first_seen
        while items:
            key, at = next(iter(items.items()))
            if now - at < self.ttl_s:
                break
            del items[key]


class Gossip:
    def __init__(self, seen: SeenCache | None = None, per_peer: int = 20_000) -> None:
        self.seen = seen or SeenCache()
        self.per_peer = per_peer
        self._has: dict[bytes, OrderedDict[bytes, None]] = {}

    def receive(self, origin: bytes, code: int, body: bytes | memoryview, now: float) -> bool:
        """True if this item is new and should go to its actor."""
        key = gossip_key(body)
        self._mark(origin, key)
        return not self.seen.seen(key, now)

    def outbound(self, code: int, body: bytes, now: float) -> MarshalledPacket:
        """The packet to fan out; its key is marked seen so echoes are dropped."""
        key = gossip_key(body)
        self.seen.seen(key, now)
        return MarshalledPacket(code, body, key)

    def fanout(
        self, packet: MarshalledPacket, peers: Iterable[bytes], exclude: bytes | None = None
    ) -> list[bytes]:
        """The peers to send `packet` to; they are marked as having it."""
        out = []
        for p in peers:
            if p == exclude or self.has(p, packet.key):
                continue
            self._mark(p, packet.key)
            out.append(p)
        return out

    def has(self, peer_id: bytes, key: bytes) -> bool:
        known = self._has.get(peer_id)
        return known is not None and key in known

    def forget_peer(self, peer_id: bytes) -> None:
        self._has.pop(peer_id, None)

    def _mark(self, peer_id: bytes, key: bytes) -> None:
        known = self._has.get(peer_id)
        if known is None:
            known = self._has[peer_id] = OrderedDict()
        known[key] = None
        known.move_to_end(key)
        if len(known) > self.per_peer:
            known.popitem(last=False)
