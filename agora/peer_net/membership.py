"""Who is connected: joining after the handshake, leaving, and paying for misbehaviour.

A connection joins the peer set once its handshake is done (`Peers.add_peer`:
bans, slots, duplicates), and the actors get `PeerUp`; it leaves when its
socket closes, for a logged reason, and they get `PeerDown` while its
pending requests fail with `peer_disconnected`. Every error a peer causes
goes through `misbehaved` (score, ban, close), logged with peer and reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.errors import AgoraError, RemoteError
from agora.peer_net.addr import format_addr
from agora.peer_net.addrbook import Source
from agora.peer_net.identity import PeerInfo
from agora.peer_net.messages import PeerDown, PeerUp
from agora.peer_net.peer_conn import PeerConn
from agora.peer_net.peers import INSTANT_BAN
from agora.server import Addr, Server

if TYPE_CHECKING:
    from agora.peer_net.service import PeerNet

DUPLICATE_GRACE_S = 2.0  # two links this close in age: keep the one the lower id dialed
HANDSHAKE_TIMEOUT_PENALTY = 10  # slow, maybe not hostile; a slowloris still adds up


class Membership:
    def __init__(self, net: PeerNet) -> None:
        self.net = net
        self.pending_in = 0  # inbound connections still in their handshake

    def attach(self, pc: PeerConn) -> None:
        net = self.net
        net.links[pc.link.id] = pc
        net.by_addr[pc.link.addr] = pc
        if pc.pending_in:
            self.pending_in += 1

    def detach(self, pc: PeerConn) -> None:
        net, link = self.net, pc.link
        net.links.pop(link.id, None)
        if net.by_addr.get(link.addr) is pc:
            del net.by_addr[link.addr]
        self._not_pending(pc)
        net.forget_paused(pc)
        reason = link.close_reason or "closed"
        if not pc.done.done():
            pc.done.set_result(reason)
        pid = pc.peer_id
        if pid is not None and net.conns.get(pid) is pc:
            self._peer_down(pc, reason)
        net.log.info(
            "peer_disconnected",
            node=net.key.short,
            peer=pid or (pc.conn.peer.identity_key if pc.conn.peer else None),
            addr=format_addr(*link.addr),
            inbound=link.inbound,
            reason=reason,
        )

    def _not_pending(self, pc: PeerConn) -> None:
        if pc.pending_in:
            pc.pending_in = False
            self.pending_in -= 1

    def handshake_timed_out(self, pc: PeerConn) -> None:
        err = RemoteError("no handshake in time", code="handshake_timeout")
        err.penalty = HANDSHAKE_TIMEOUT_PENALTY
        self.misbehaved(None, pc.link.addr[0], err, self.net.clock())
        pc.close(err.code, err.message)

    def joined(self, pc: PeerConn, info: PeerInfo, now: float) -> bool:
        """The handshake is done: add the peer, or refuse it (closed, False)."""
        net = self.net
        pc.cancel_timer()
        self._not_pending(pc)
        pc.info = info
        pid, link = info.identity_key, pc.link
        addr = format_addr(*link.addr)
        try:
            self._keep_one(pid, pc, now)
            net.peers.add_peer(pid, addr, link.inbound, now)
        except RemoteError as e:
            net.log.info("peer_refused", node=net.key.short, peer=pid, addr=addr, reason=e.code)
            pc.done.set_result(e.code)
            pc.close(e.code, e.message)
            return False
        pc.peer_id, pc.since = pid, now
        net.conns[pid] = pc
        if link.inbound:
            try:
                net.book.add(info.listen, Source.INBOUND, now, pid)
            except RemoteError:
                pass  # it listens where nobody can dial (0.0.0.0): fine for an inbound peer
        pc.done.set_result("")
        net.emit_all(PeerUp(pid, addr, link.inbound))
        net.log.info(
            "peer_connected",
            node=net.key.short,
            peer=pid,
            addr=addr,
            listen=info.listen,
            inbound=link.inbound,
        )
        net.discovery.on_connected(pc)
        return True

    def _keep_one(self, pid: bytes, new: PeerConn, now: float) -> None:
        """Two links to one node: keep the older; if both are new, the one the lower id dialed.

        Both ends decide alike, so two dials that cross do not kill both links.
        """
        net = self.net
        old = net.conns.get(pid)
        if old is None:
            return
        new_dialer = pid if new.link.inbound else net.key.node_id
        if now - old.since < DUPLICATE_GRACE_S and new_dialer == min(pid, net.key.node_id):
            self._peer_down(old, "duplicate_peer")
            old.close("duplicate_peer", "a newer link to this node is kept")
            return
        raise RemoteError("already connected to this node", code="duplicate_peer")

    def _peer_down(self, pc: PeerConn, reason: str) -> None:
        net, pid = self.net, pc.peer_id
        assert pid is not None
        del net.conns[pid]
        net.peers.remove_peer(pid, reason)
        for p in net.router.on_peer_down(pid, net.clock()):
            net.commands.fail_request(p, "peer_disconnected")
        net.emit_all(PeerDown(pid, reason))

    # --- behaviour ---

    def misbehaved(self, pid: bytes | None, ip: str | None, err: RemoteError, now: float) -> bool:
        """Charge the peer (by id, or by IP before the handshake); True if it was closed."""
        net = self.net
        v = net.peers.record_behaviour(pid, err.code, err.penalty, now, ip=ip)
        net.log.warning(
            "peer_misbehaved",
            node=net.key.short,
            peer=pid,
            ip=ip,
            reason=err.code,
            penalty=err.penalty,
            score=round(v.score, 1),
            banned=v.banned,
            message=err.message,
        )
        pc = net.conns.get(pid) if pid is not None else None
        if pc is not None and (v.banned or err.penalty >= INSTANT_BAN):
            pc.close(err.code, err.message)
            return True
        return False

    def errored(self, err: AgoraError, addr: Addr, server: Server) -> None:
        """The server's `handle_errored`: a connection failed (and is closing)."""
        net = self.net
        pc = net.by_addr.get(addr)
        pid = pc.peer_id if pc is not None else None
        if pid is None and pc is not None and pc.conn.peer is not None:
            # it proved who it is, then broke the protocol in the same read
            pid = pc.conn.peer.identity_key
        if isinstance(err, RemoteError) and err.penalty > 0:
            self.misbehaved(pid, addr[0], err, net.clock())
            return
        log = net.log.info if isinstance(err, RemoteError) else net.log.warning  # ours: louder
        log(
            "connection_error",
            node=net.key.short,
            peer=pid,
            addr=format_addr(*addr),
            reason=err.code,
            message=err.message,
        )
