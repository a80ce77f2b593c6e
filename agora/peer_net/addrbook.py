"""The address book: where peers may be dialed, learned and kept on disk.

Addresses come from the bootstrap list, from peer exchange and from the
listen address inbound peers advertise in their handshake. Peer exchange
passes on only addresses we connected to ourselves and those of peers
connected now, so a peer cannot use us to spread addresses nobody can reach.
Times are wall-clock seconds.

Failed dials back off exponentially: after `f` failures an address waits
`min(backoff_base_s * 2**f, backoff_max_s)` after its last attempt. Learned
addresses that keep failing are forgotten; bootstrap ones never are.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import msgspec

from agora.errors import LocalError, RemoteError
from agora.logs import Log
from agora.peer_net.addr import host_of, normalize_addr
from agora.peer_net.pex import validate_pex
from agora.peer_net.statefile import read_json, write_json_atomic

_log = Log("agora.peer_net.addrbook")

BannedCheck = Callable[[bytes | None, str], bool]  # (node id, host) -> banned?


class Source(StrEnum):
    BOOTSTRAP = "bootstrap"
    PEX = "pex"
    INBOUND = "inbound"  # the listen address an inbound peer advertised


@dataclass(frozen=True, slots=True)
class BookLimits:
    max_entries: int = 1000
    backoff_base_s: float = 2.0
    backoff_max_s: float = 600.0
    # Bootstrap addresses, and ones a peer advertised again since our last
    # attempt, are retried at least this often: a node that starts slowly must
    # not be left out of the mesh for minutes.
    fresh_backoff_max_s: float = 10.0
    max_failures: int = 16  # then a learned address is forgotten


class AddrEntry(msgspec.Struct):
    addr: str
    source: Source
    node_id: bytes | None = None
    last_seen: float = 0.0
    last_attempt: float = 0.0
    last_success: float = 0.0  # 0: never connected
    failures: int = 0


class AddrBookFile(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    entries: list[AddrEntry]


class AddrBook:
    def __init__(
        self,
        path: Path | None,
        own_addrs: Iterable[str] = (),
        limits: BookLimits | None = None,
    ) -> None:
        self.path = path
        self.limits = limits or BookLimits()
        self.own: list[str] = []
        for a in own_addrs:
            try:
                self.own.append(normalize_addr(a))
            except RemoteError:
                pass  # 0.0.0.0 and the like: listening everywhere, not dialable
        self._entries: dict[str, AddrEntry] = {}
        self.dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        doc = read_json(path, AddrBookFile)
        if doc is None or doc.version != 1:
            return
        for e in doc.entries[: self.limits.max_entries]:
            try:
                e.addr = normalize_addr(e.addr)
            except RemoteError:
                continue
            times = (e.last_seen, e.last_attempt, e.last_success)
            if e.addr not in self.own and e.failures >= 0 and all(map(math.isfinite, times)):
                self._entries[e.addr] = e

    def save(self) -> None:
        if self.path is not None:
            entries = sorted(self._entries.values(), key=lambda e: e.addr)
            write_json_atomic(self.path, AddrBookFile(version=1, entries=entries))
        self.dirty = False

    # --- learning ---

    def add(self, addr: str, source: Source, now: float, node_id: bytes | None = None) -> bool:
        """Learn one address (RemoteError `bad_address`); True if it is new."""
        addr = normalize_addr(addr)
        if addr in self.own:
            return False
        e = self._entries.get(addr)
        if e is not None:
            e.last_seen = max(e.last_seen, now)
            if node_id is not None:
                e.node_id = node_id
            if source is Source.BOOTSTRAP:
                e.source = source
            self.dirty = True
            return False
        if len(self._entries) >= self.limits.max_entries and not self._evict():
            return False
        self._entries[addr] = AddrEntry(addr, source, node_id, last_seen=now)
        self.dirty = True
        return True

    def add_bootstrap(self, addrs: Iterable[str], now: float) -> None:
        for a in addrs:
            try:
                self.add(a, Source.BOOTSTRAP, now)
            except RemoteError as e:
                raise LocalError(f"bootstrap: {e.message}", code="bad_address") from None

    def add_from_pex(self, addrs: object, source_peer: bytes, now: float) -> int:
        """Learn what a peer told us; RemoteError `bad_pex` for a bad list. Returns new ones."""
        new = sum(self.add(a, Source.PEX, now) for a in validate_pex(addrs))
        _log.debug("pex_learned", peer=source_peer, new=new)
        return new

    def _evict(self) -> bool:
        """Make room by forgetting the least useful never-connected learned address."""
        victims = [
            e
            for e in self._entries.values()
            if e.source is not Source.BOOTSTRAP and e.last_success == 0
        ]
        if not victims:
            return False  # a flood of learned addresses must not push out proven ones
        worst = max(victims, key=lambda e: (e.failures, -e.last_seen, e.addr))
        del self._entries[worst.addr]
        return True

    def remove(self, addr: str) -> None:
        if self._entries.pop(addr, None) is not None:
            self.dirty = True

    # --- dialing ---

    def mark_attempt(self, addr: str, now: float) -> None:
        if (e := self._entries.get(addr)) is not None:
            e.last_attempt = now
            self.dirty = True

    def mark_success(self, addr: str, now: float, node_id: bytes | None = None) -> None:
        if (e := self._entries.get(addr)) is not None:
            e.last_success = e.last_seen = now
            e.failures = 0
            if node_id is not None:
                e.node_id = node_id
            self.dirty = True

    def mark_failure(self, addr: str, now: float) -> None:
        e = self._entries.get(addr)
        if e is None:
            return
        e.failures += 1
        e.last_attempt = max(e.last_attempt, now)
        self.dirty = True
        if e.source is not Source.BOOTSTRAP and e.failures >= self.limits.max_failures:
            del self._entries[addr]

    def next_attempt(self, e: AddrEntry) -> float:
        """When this address may be dialed again."""
        if e.last_attempt == 0:
            return 0.0
        lim = self.limits
        fresh = e.source is Source.BOOTSTRAP or e.last_seen >= e.last_attempt
        cap = lim.fresh_backoff_max_s if fresh else lim.backoff_max_s
        wait = min(lim.backoff_base_s * 2.0 ** min(e.failures, 40), cap)
        return e.last_attempt + wait

    def candidates(
        self,
        n: int,
        now: float,
        rng: random.Random,
        exclude: Collection[str] = (),
        exclude_ids: Collection[bytes] = (),
        banned: BannedCheck | None = None,
    ) -> list[str]:
        """Up to `n` addresses to dial: fewest failures first, ties broken by `rng`.

        `exclude` holds the addresses connected or being dialed, `exclude_ids`
        the node ids connected; `banned(node_id, host)` filters out bans.
        """
        ready: list[tuple[int, float, str]] = []
        for addr in sorted(self._entries):
            e = self._entries[addr]
            if addr in exclude or (e.node_id is not None and e.node_id in exclude_ids):
                continue
            if now < self.next_attempt(e):
                continue
            if banned is not None and banned(e.node_id, host_of(addr)):
                continue
            ready.append((e.failures, rng.random(), addr))
        ready.sort()
        return [addr for _, _, addr in ready[: max(0, n)]]

    # --- sharing ---

    def for_pex(
        self, n: int, exclude: Collection[str] = (), connected: Collection[bytes] = ()
    ) -> list[str]:
        """Our own address, then peers connected now, then ones we once connected to.

        A connected inbound peer's advertised address is shared while it is
        connected: it proved its node id, and that is how a node that only
        ever dialed the bootstrap node gets known to the others.
        """

        def rank(e: AddrEntry) -> tuple[int, float, str]:
            live = e.node_id is not None and e.node_id in connected
            return (0 if live else 1, -max(e.last_success, e.last_seen if live else 0), e.addr)

        shared = sorted(
            (
                e
                for e in self._entries.values()
                if e.addr not in exclude
                and (e.last_success > 0 or (e.node_id is not None and e.node_id in connected))
            ),
            key=rank,
        )
        return [*self.own, *(e.addr for e in shared)][: max(0, n)]

    # --- reading ---

    def get(self, addr: str) -> AddrEntry | None:
        e = self._entries.get(addr)
        return None if e is None else msgspec.structs.replace(e)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, addr: object) -> bool:
        return addr in self._entries
