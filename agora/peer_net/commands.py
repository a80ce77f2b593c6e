"""The actors' commands to peer_net (`NetCommand`), and the `NetOps` the handlers call.

`handle` is the generic server's `handle_internal`: it runs for each command
drained from an actor's channel, on peer_net's loop. Sends only queue; the
bytes go out in one write per connection after the batch (`PeerConn.flush`).
A send to a peer whose queue is full is dropped and counted (gossip is best
effort; a request fails at once with `send_failed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.errors import LocalError, RemoteError
from agora.peer_net.addr import normalize_addr
from agora.peer_net.codes import PacketCode
from agora.peer_net.connection import State
from agora.peer_net.handlers import TABLE, Kind, Owner
from agora.peer_net.messages import (
    Broadcast,
    Disconnect,
    Penalize,
    Request,
    RequestFailed,
    Respond,
    SendTo,
)
from agora.peer_net.pex import MAX_PEX
from agora.peer_net.requests import Pending
from agora.peer_net.router import Router
from agora.server import Server, Timer

if TYPE_CHECKING:
    from agora.peer_net.service import PeerNet

_READY = State.READY
ANNOUNCEMENTS = frozenset(c for c, s in TABLE.items() if s.kind is Kind.ANNOUNCEMENT and s.gossip)
# What an actor may SendTo one peer: any announcement an actor owns, gossip or not.
SENDABLE = frozenset(
    c for c, s in TABLE.items() if s.kind is Kind.ANNOUNCEMENT and s.owner is not Owner.NEGOTIATION
)


class Commands:
    def __init__(self, net: PeerNet) -> None:
        self.net = net
        self._expiry: Timer | None = None
        self._expiry_at = 0.0
        self._egress_codes: frozenset[int] = frozenset()  # set once the router exists

    def bind(self, router: Router) -> None:
        self._egress_codes = frozenset(router.egress.limits)

    def _may_send(self, peer_id: bytes, code: int) -> bool:
        return self.net.router.may_send(peer_id, code, self.net.clock())

    def handle(self, msg: object, server: Server) -> None:
        net = self.net
        if type(msg) is SendTo:  # the hot one first, with PeerConn.send inlined
            code = msg.code
            if code not in SENDABLE:
                raise LocalError(f"SendTo with code {code}", code="not_an_announcement")
            pc = net.conns.get(msg.peer_id)
            if (
                pc is not None
                and pc.conn.state is _READY
                and (code not in self._egress_codes or self._may_send(msg.peer_id, code))
                and pc.conn.send_packet(code, msg.body)
            ):
                net.packets_out += 1
                if not pc.dirty:
                    pc.dirty = True
                    net.mark_dirty(pc)
            else:
                net.dropped_out += 1
        elif isinstance(msg, Broadcast):
            self.broadcast(msg.code, msg.body, msg.exclude)
        elif isinstance(msg, Request):
            self.request(msg.peer_id, msg.code, msg.body, msg.timeout_s, msg.req_id)
        elif isinstance(msg, Respond):
            self.respond(msg.peer_id, msg.msg_id, msg.code, msg.body)
        elif isinstance(msg, Penalize):
            err = RemoteError("reported by an actor", code=msg.code, penalty=msg.penalty)
            net.misbehaved(msg.peer_id, None, err, net.clock())
        elif isinstance(msg, Disconnect):
            pc = net.conns.get(msg.peer_id)
            if pc is not None:
                pc.close(msg.reason, "asked to by an actor")
        else:
            raise LocalError(f"peer_net got a {type(msg).__name__}", code="bad_message")

    def broadcast(self, code: int, body: bytes, exclude: bytes | None) -> int:
        """Marshal once, encrypt per peer; how many peers it went to."""
        net = self.net
        if code not in ANNOUNCEMENTS:
            raise LocalError(f"Broadcast with code {code}", code="not_an_announcement")
        packet, targets = net.router.broadcast(code, body, net.conns, net.clock(), exclude)
        sent = 0
        for pid in targets:
            if net.conns[pid].send(code, packet.body):
                sent += 1
            else:
                net.dropped_out += 1
        net.packets_out += sent
        return sent

    # --- requests ---

    def request(
        self, peer_id: bytes | None, code: int, body: bytes, timeout: float, req_id: int | None
    ) -> int | None:
        """Send a request; its answer comes back through the router. The msg_id, or None."""
        net = self.net
        spec = TABLE.get(code)
        if spec is None or spec.kind is not Kind.REQUEST:
            raise LocalError(f"code {code} is not a request", code="not_a_request")
        pid = peer_id if peer_id is not None else Router.pick_peer(net.conns, net.rng)
        pc = net.conns.get(pid) if pid is not None else None
        if pid is None or pc is None or not pc.can_send(len(body)):
            why = "no_peer" if pc is None else "send_failed"
            if req_id is not None:
                net.sinks_for(code).send_nowait(RequestFailed(req_id, why))
            return None
        now = net.clock()
        msg_id = net.router.start_request(pid, code, now, timeout, req_id)
        pc.send(code, body, msg_id=msg_id, response_handler=True)
        net.packets_out += 1
        self._arm_expiry(now)
        return msg_id

    def fail_request(self, p: Pending, reason: str) -> None:
        if p.req_id is not None:
            self.net.sinks_for(p.code).send_nowait(RequestFailed(p.req_id, reason))

    def _arm_expiry(self, now: float) -> None:
        deadline = self.net.router.tracker.next_deadline()
        if deadline is None:
            return
        if self._expiry is not None and self._expiry.pending:
            if self._expiry_at <= deadline:
                return
            self._expiry.cancel()
        self._expiry_at = deadline
        self._expiry = self.net.server.call_later(max(0.0, deadline - now), self._expire)

    def _expire(self) -> None:
        self._expiry = None
        now = self.net.clock()
        for p in self.net.router.expire(now):
            self.fail_request(p, "timeout")
        self._arm_expiry(now)

    # --- NetOps, for the handlers ---

    def respond(self, peer_id: bytes, msg_id: int, code: int, body: bytes) -> None:
        net = self.net
        net.router.responded(peer_id, code)  # LocalError if `code` is not a response
        pc = net.conns.get(peer_id)
        if pc is not None and pc.send(code, body, msg_id=msg_id, is_response=True):
            net.packets_out += 1
        else:
            net.dropped_out += 1

    def pex_addresses(self, peer_id: bytes) -> list[str]:
        net = self.net
        pc = net.conns.get(peer_id)
        exclude = []
        if pc is not None and pc.info is not None:
            try:
                exclude.append(normalize_addr(pc.info.listen))
            except RemoteError:
                pass
        return net.book.for_pex(MAX_PEX, exclude=exclude, connected=net.conns.keys())

    def learn_addresses(self, peer_id: bytes, addrs: list[str]) -> None:
        if self.net.book.add_from_pex(addrs, peer_id, self.net.clock()):
            self.net.discovery.kick()

    def pong(self, peer_id: bytes, pending: Pending, body: bytes) -> None:
        pc = self.net.conns.get(peer_id)
        if pc is not None:
            pc.rtt = self.net.clock() - pending.sent_at

    def ask(self, peer_id: bytes, code: PacketCode, body: bytes = b"") -> None:
        """peer_net's own request (PEX, PING): nobody waits on its answer but the handlers."""
        self.request(peer_id, code, body, self.net.settings.request_timeout_s, None)
