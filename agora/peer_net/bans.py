"""Bans by node id and by IP, with a memory of repeat offences, kept on disk.

Times are wall-clock seconds (`time.time()`), because bans outlive the process.
Loopback IPs are never banned by IP (unless asked): every node of a devnet on
one machine shares 127.0.0.1, so an IP ban there would ban the whole devnet.
Such peers are banned by node id only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import msgspec

from agora.errors import LocalError
from agora.peer_net.addr import is_loopback
from agora.peer_net.statefile import read_json, write_json_atomic

OFFENCE_MEMORY_S = 24 * 3600.0  # a ban this long ago no longer makes the next one longer
MAX_BANS = 100_000
FILE = "bans.json"  # in the node's p2p directory
MIN_ID_PREFIX = 8  # hex digits: enough to name one node of a real network


class Ban(msgspec.Struct, frozen=True):
    reason: str
    since: float
    until: float
    peer_id: bytes | None = None
    ip: str | None = None


class Offence(msgspec.Struct, frozen=True):
    key: str
    count: int
    last: float


class BanFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    bans: list[Ban]
    offences: list[Offence]


def _id_key(peer_id: bytes) -> str:
    return "id:" + peer_id.hex()


def _ip_key(ip: str) -> str:
    return "ip:" + ip


class BanList:
    def __init__(self, path: Path | None, now: float, *, ban_loopback_ips: bool = False) -> None:
        self.path = path
        self.ban_loopback_ips = ban_loopback_ips
        self._by_id: dict[bytes, Ban] = {}
        self._by_ip: dict[str, Ban] = {}
        self._offences: dict[str, Offence] = {}
        if path is not None:
            self._load(path, now)

    def _load(self, path: Path, now: float) -> None:
        doc = read_json(path, BanFile)
        if doc is None or doc.version != 1:
            return
        for b in doc.bans:
            if b.until > now:
                self._store(b)
        for o in doc.offences:
            if now - o.last < OFFENCE_MEMORY_S and o.count > 0:
                self._offences[o.key] = o

    def _store(self, b: Ban) -> None:
        if b.peer_id is not None:
            old = self._by_id.get(b.peer_id)
            if old is None or old.until < b.until:
                self._by_id[b.peer_id] = b
        if b.ip is not None:
            old = self._by_ip.get(b.ip)
            if old is None or old.until < b.until:
                self._by_ip[b.ip] = b

    def bannable_ip(self, ip: str | None) -> str | None:
        if ip is None or (is_loopback(ip) and not self.ban_loopback_ips):
            return None
        return ip

    def lookup(self, peer_id: bytes | None, ip: str | None, now: float) -> Ban | None:
        """The active ban on this id or this IP, if any; expired bans are dropped."""
        if peer_id is not None and (b := self._by_id.get(peer_id)) is not None:
            if b.until > now:
                return b
            del self._by_id[peer_id]
        if ip is not None and (b := self._by_ip.get(ip)) is not None:
            if b.until > now:
                return b
            del self._by_ip[ip]
        return None

    def _keys(self, peer_id: bytes | None, ip: str | None) -> list[str]:
        keys = [_id_key(peer_id)] if peer_id is not None else []
        return keys + ([_ip_key(ip)] if ip is not None else [])

    def offences(self, peer_id: bytes | None, ip: str | None, now: float) -> int:
        """How many times this id or IP was banned within the offence memory."""
        keys = self._keys(peer_id, self.bannable_ip(ip))
        found = [self._offences.get(k) for k in keys]
        return max((o.count for o in found if o and now - o.last < OFFENCE_MEMORY_S), default=0)

    def ban(
        self, peer_id: bytes | None, ip: str | None, reason: str, duration: float, now: float
    ) -> Ban | None:
        """Ban and save at once; None when there is nothing to ban (loopback, no id)."""
        if duration <= 0:
            raise LocalError(f"ban duration must be positive, not {duration}", code="bad_ban")
        ip = self.bannable_ip(ip)
        if peer_id is None and ip is None:
            return None
        b = Ban(reason=reason, since=now, until=now + duration, peer_id=peer_id, ip=ip)
        self._store(b)
        prior = self.offences(peer_id, ip, now)
        for key in self._keys(peer_id, ip):
            self._offences[key] = Offence(key, prior + 1, now)
        self._prune(now)
        self.save()
        return b

    def _prune(self, now: float) -> None:
        self._by_id = {k: b for k, b in self._by_id.items() if b.until > now}
        self._by_ip = {k: b for k, b in self._by_ip.items() if b.until > now}
        for key in [k for k, o in self._offences.items() if now - o.last >= OFFENCE_MEMORY_S]:
            del self._offences[key]
        if len(self._by_id) + len(self._by_ip) > MAX_BANS:
            # keep the bans that last longest; the rest were about to end anyway
            keep = sorted(self.bans(now), key=lambda b: b.until, reverse=True)[: MAX_BANS // 2]
            self._by_id.clear()
            self._by_ip.clear()
            for b in keep:
                self._store(b)

    def lift(self, target: str | None, now: float) -> list[Ban]:
        """An operator's pardon: the bans of one node (by a hex prefix of its id) or of
        one IP, or every ban (None); their offences are forgotten too. Saved at once."""
        match, by_prefix = _matcher(target)
        lifted = [b for b in self.bans(now) if match(b)]
        ids = {b.peer_id for b in lifted if b.peer_id is not None}
        if by_prefix and len(ids) > 1:  # an IP may be shared by several nodes; a prefix not
            n = len(ids)
            raise LocalError(f"{target!r} names {n} nodes: give more of the id", code="ambiguous")
        for b in lifted:
            for key in self._keys(b.peer_id, b.ip):
                self._offences.pop(key, None)
            if b.peer_id is not None and self._by_id.get(b.peer_id) is b:
                del self._by_id[b.peer_id]
            if b.ip is not None and self._by_ip.get(b.ip) is b:
                del self._by_ip[b.ip]
        if lifted:
            self.save()
        return lifted

    def bans(self, now: float) -> list[Ban]:
        seen: dict[int, Ban] = {}
        for b in [*self._by_id.values(), *self._by_ip.values()]:
            if b.until > now:
                seen[id(b)] = b
        return sorted(seen.values(), key=lambda b: (b.since, b.reason))

    def save(self) -> None:
        if self.path is None:
            return
        bans = sorted(
            {id(b): b for b in [*self._by_id.values(), *self._by_ip.values()]}.values(),
            key=lambda b: b.since,
        )
        offences = sorted(self._offences.values(), key=lambda o: o.key)
        write_json_atomic(self.path, BanFile(version=1, bans=bans, offences=offences))


def _matcher(target: str | None) -> tuple[Callable[[Ban], bool], bool]:
    """Which bans `target` names, and whether it names them by a node id prefix."""
    if target is None:
        return (lambda b: True), False
    try:
        ip = str(ipaddress.ip_address(target))
    except ValueError:
        pass
    else:
        return (lambda b: b.ip == ip), False
    prefix = target.lower()
    if len(prefix) < MIN_ID_PREFIX or len(prefix) > 64 or prefix.strip("0123456789abcdef"):
        msg = f"a ban is lifted by an IP or at least {MIN_ID_PREFIX} hex digits of a node id"
        raise LocalError(msg, code="bad_ban_target")
    return (lambda b: b.peer_id is not None and b.peer_id.hex().startswith(prefix)), True
