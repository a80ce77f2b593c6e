"""Finding peers: dial from the address book, peer exchange, pings, saving the book.

Each is a periodic task with a fixed interval, spawned on the server and
cancelled with it. Dialing fills the free outbound slots from
`AddrBook.candidates` (which applies backoff and bans), never our own
address, an address being dialed, nor a node we are connected to. Each new
peer is asked for addresses at once (PEX) and then every `pex_interval_s`;
learning a new address starts a dial round early.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from agora.errors import AgoraError, RemoteError
from agora.peer_net.addr import normalize_addr, parse_addr
from agora.peer_net.codes import PacketCode
from agora.server import Timer

if TYPE_CHECKING:
    from agora.peer_net.peer_conn import PeerConn
    from agora.peer_net.service import PeerNet

KICK_DELAY_S = 0.05  # a dial round soon after learning addresses, not one per address


class Discovery:
    def __init__(self, net: PeerNet) -> None:
        self.net = net
        self.dialing: set[str] = set()
        self._kick: Timer | None = None

    def start(self) -> None:
        s, spawn = self.net.settings, self.net.server.spawn
        spawn(self._every(s.dial_interval_s, self.dial_round), name="p2p:dial")
        spawn(self._every(s.pex_interval_s, self.pex_round), name="p2p:pex")
        spawn(self._every(s.ping_interval_s, self.ping_round), name="p2p:ping")
        spawn(self._every(s.save_interval_s, self.save), name="p2p:save")

    @staticmethod
    async def _every(interval: float, fn: Callable[[], None]) -> None:
        while True:
            fn()
            await asyncio.sleep(interval)

    def kick(self) -> None:
        if self._kick is None or not self._kick.pending:
            self._kick = self.net.server.call_later(KICK_DELAY_S, self.dial_round)

    # --- dialing ---

    def _busy_addrs(self) -> set[str]:
        """Addresses of connected peers and of dials in progress."""
        out = set(self.dialing)
        for pc in self.net.conns.values():
            if pc.info is not None:
                try:
                    out.add(normalize_addr(pc.info.listen))
                except RemoteError:
                    pass
        return out

    def dial_round(self) -> None:
        net = self.net
        if not net.server.running:
            return
        free = net.peers.free_outbound() - len(self.dialing)
        if free <= 0:
            return
        now = net.clock()
        picks = net.book.candidates(
            free,
            now,
            net.rng,
            exclude=self._busy_addrs(),
            exclude_ids=set(net.conns) | {net.key.node_id},
            banned=lambda nid, host: net.peers.is_banned(nid, host, now=now),
        )
        for addr in picks:
            net.book.mark_attempt(addr, now)
            self.dialing.add(addr)
            net.server.spawn(self._dial(addr), name=f"p2p:dial:{addr}")

    async def _dial(self, addr: str) -> None:
        net = self.net
        pc: PeerConn | None = None
        try:
            host, port = parse_addr(addr)
            link = await net.server.dial(host, port, timeout=net.settings.handshake_timeout_s)
            pc = net.conn_of(link)
            reason = "closed" if pc is None else await pc.done
        except AgoraError as e:
            reason = e.code
        finally:
            self.dialing.discard(addr)
        now = net.clock()
        node_id = pc.info.identity_key if pc is not None and pc.info is not None else None
        if reason == "" or reason == "duplicate_peer":
            net.book.mark_success(addr, now, node_id)  # it is that node's address
        elif reason == "self_connection":
            net.book.remove(addr)  # another spelling of our own address
        else:
            net.book.mark_failure(addr, now)
            net.log.info("dial_failed", node=net.key.short, addr=addr, reason=reason)

    # --- exchange and pings ---

    def on_connected(self, pc: PeerConn) -> None:
        if pc.peer_id is not None:
            self.net.commands.ask(pc.peer_id, PacketCode.PEX_REQUEST)

    def pex_round(self) -> None:
        self._ask_all(PacketCode.PEX_REQUEST, b"")

    def ping_round(self) -> None:
        self._ask_all(PacketCode.PING, os.urandom(8))

    def _ask_all(self, code: PacketCode, body: bytes) -> None:
        net = self.net
        tracker = net.router.tracker
        for pid in list(net.conns):
            if tracker.in_flight(pid, code) == 0:
                net.commands.ask(pid, code, body)

    def save(self) -> None:
        book = self.net.book
        if book.dirty:
            try:
                book.save()
            except AgoraError as e:
                self.net.log.warning("addrbook_unsaved", reason=e.code, message=e.message)
