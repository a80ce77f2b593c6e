"""Gossip: each item relayed once, its body marshalled once for every peer.

Flow for an item that arrives from peer P:

1. `Gossip.receive(P, code, body, now)`: False if seen before (drop it);
   either way P is noted as having it.
2. If new, the owning actor gets it, checks it, and asks peer_net to
   `Broadcast(code, body, exclude=P)`.
3. `Gossip.outbound(code, body, now)` builds one `MarshalledPacket`, and
   `fanout(packet, peers, exclude=P)` names the peers still without it: not
   P, not a peer that sent it to us meanwhile, not one we already sent it to.

The seen-cache is keyed by the SHA-256 of the body and bounded in size and
in age, so memory stays flat under any flood. It runs on every gossip packet,
so it is two plain dicts, not an LRU: new keys go into the current
generation; when it is full (half the bound) or a TTL old, it becomes the
old generation and the previous old one is dropped whole. A key seen within
the TTL is reported seen as long as fewer than half the bound of other new
keys came after it; the peers' have-sets work the same way, without the TTL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_sha256 = hashlib.sha256


def gossip_key(body: bytes | bytearray | memoryview) -> bytes:
    return _sha256(body).digest()


@dataclass(frozen=True, slots=True)
class MarshalledPacket:
    """One encoded body, shared by every peer it goes to; only encryption is per peer."""

    code: int
    body: bytes
    key: bytes
    is_marshalled: bool = True


class SeenCache:
    """Keys seen within `ttl_s`, at most `max_items` held. `seen()` asks and records at once."""

    __slots__ = ("_cur", "_cur_last", "_cur_start", "_half", "_old", "max_items", "ttl_s")

    def __init__(self, max_items: int = 100_000, ttl_s: float = 300.0) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        self._half = max(1, max_items // 2)
        self._cur: dict[bytes, float] = {}  # key -> when first seen
        self._old: dict[bytes, float] = {}  # the generation before
        self._cur_start = self._cur_last = float("-inf")  # first and last insert into _cur

    def seen(self, key: bytes, now: float) -> bool:
        """True if `key` was seen within the TTL; otherwise record it and return False."""
        cur = self._cur
        at = cur.get(key)
        if at is None:
            at = self._old.get(key)
        if at is not None and now - at < self.ttl_s:
            return True
        if len(cur) >= self._half or now - self._cur_start >= self.ttl_s:
            cur = self._rotate(now)
        cur[key] = now
        self._cur_last = now
        return False

    def _rotate(self, now: float) -> dict[bytes, float]:
        # a generation whose newest key has expired is dropped at once, not kept as the old one
        self._old = self._cur if now - self._cur_last < self.ttl_s else {}
        self._cur = {}
        self._cur_start = now
        return self._cur

    def __contains__(self, key: object) -> bool:
        return key in self._cur or key in self._old

    def __len__(self) -> int:
        return len(self._cur) + len(self._old)


class _Has:
    """The keys one peer is known to have: two generations of sets, like SeenCache."""

    __slots__ = ("cur", "half", "old")

    def __init__(self, half: int) -> None:
        self.half = half
        self.cur: set[bytes] = set()
        self.old: set[bytes] = set()

    def add(self, key: bytes) -> None:
        cur = self.cur
        if key not in cur:
            if len(cur) >= self.half:
                self.old, self.cur = cur, set()
                cur = self.cur
            cur.add(key)

    def __contains__(self, key: bytes) -> bool:
        return key in self.cur or key in self.old


class Gossip:
    def __init__(self, seen: SeenCache | None = None, per_peer: int = 20_000) -> None:
        self.seen = seen or SeenCache()
        self.per_peer = per_peer  # keys remembered per peer, at most
        self._half = max(1, per_peer // 2)
        self._has: dict[bytes, _Has] = {}

    def receive(self, origin: bytes, code: int, body: bytes | memoryview, now: float) -> bool:
        """True if this item is new and should go to its actor."""
        key = _sha256(body).digest()
        known = self._has.get(origin)
        if known is None:
            known = self._has[origin] = _Has(self._half)
        known.add(key)
        return not self.seen.seen(key, now)

    def outbound(self, code: int, body: bytes, now: float) -> MarshalledPacket:
        """The packet to fan out; its key is marked seen so echoes are dropped."""
        key = gossip_key(body)
        self.seen.seen(key, now)
        return MarshalledPacket(code, body, key)

    def fanout(
        self,
        packet: MarshalledPacket,
        peers: Iterable[bytes],
        exclude: bytes | None = None,
        allow: Callable[[bytes], bool] | None = None,
    ) -> list[bytes]:
        """The peers to send `packet` to; they are marked as having it.

        `allow(peer)` is asked last, for a peer that lacks the item; a peer
        it refuses is skipped and not marked (it may get the item later).
        """
        out = []
        key = packet.key
        for p in peers:
            if p == exclude or self.has(p, key) or (allow is not None and not allow(p)):
                continue
            self._mark(p, key)
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
            known = self._has[peer_id] = _Has(self._half)
        known.add(key)
