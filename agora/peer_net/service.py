"""`PeerNet`: the peer_net actor, the asyncio shell around the sans-IO parts.

    net = PeerNet(key, network, NetSettings(...), state_dir=home.p2p,
                  events={Owner.TEST: test_tx})
    await net.run(froms=[(test_cmds_rx, "test")])      # until net.stop()

It is built on the generic `Server`: one `PeerConn` per TCP connection, the
actors' `NetCommand` channels drained into `handle_internal`, every
connection error reported to `handle_errored`. Received packets go through
`Router.on_packet` (checks, rate limits, gossip seen-cache, request
correlation, the owning actor's channel); a RemoteError costs the peer its
penalty (`Peers.record_behaviour`) and a ban closes the connection. Discovery
(dialing, PEX, pings, saving the address book) is in `discovery.py`, the
commands in `commands.py`, joining and leaving in `membership.py`.
See docs/peer_net.md.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agora import PROTOCOL_VERSION
from agora.errors import LocalError, RemoteError
from agora.logs import Log
from agora.peer_net.addr import format_addr, normalize_addr
from agora.peer_net.addrbook import AddrBook
from agora.peer_net.bans import FILE as BAN_FILE
from agora.peer_net.commands import Commands
from agora.peer_net.connection import (
    Connection,
    Disconnected,
    Event,
    HandshakeComplete,
    PacketReceived,
)
from agora.peer_net.discovery import Discovery
from agora.peer_net.handlers import TABLE, HandlerContext, Owner, Sink, egress_limits, rate_limits
from agora.peer_net.identity import NodeKey
from agora.peer_net.membership import Membership
from agora.peer_net.messages import NetCommand, NetEvent
from agora.peer_net.peer_conn import PeerConn
from agora.peer_net.peers import Peers
from agora.peer_net.ratelimit import RateLimiter
from agora.peer_net.router import Router
from agora.peer_net.settings import NetSettings
from agora.peer_net.sinks import EventSink
from agora.runtime import call_on_loop
from agora.server import Addr, Link, Server
from agora.spsc import Receiver, Sender


@dataclass(frozen=True, slots=True)
class PeerView:
    """One connected peer, for status.json and the RPC's `net_peers`."""

    peer_id: bytes
    addr: str  # the socket's remote address
    listen: str  # the address it advertised
    inbound: bool
    since: float
    score: float
    rtt_ms: float | None


class PeerNet:
    def __init__(
        self,
        key: NodeKey,
        network: str,
        settings: NetSettings,
        *,
        state_dir: Path | None = None,
        events: Mapping[Owner, Sender[NetEvent]] | None = None,
        version: int = PROTOCOL_VERSION,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.key = key
        self.network = network
        self.version = version
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.static_key = X25519PrivateKey.generate()  # one per node, signed by `key`
        self.log = Log("agora.peer_net")
        now = clock()
        path = state_dir
        self.peers = Peers(settings.limits, path / BAN_FILE if path else None, now)
        host, port = settings.listen
        self.external = settings.external or (format_addr(host, port) if port else "")
        self.book = AddrBook(path / "addrbook.json" if path else None, [self.external])
        self.book.add_bootstrap(settings.bootstrap, now)
        self.sinks = {o: EventSink(o.value, tx) for o, tx in (events or {}).items()}
        self.sink_list = list(self.sinks.values())
        self.commands = Commands(self)
        limiter = RateLimiter(rate_limits(settings.rate_overrides), self.peers)
        egress = RateLimiter(egress_limits(settings.rate_overrides))
        ctx = HandlerContext(self.sinks, self.commands)
        self.router = Router(self.peers, ctx, limiter=limiter, egress=egress)
        self.commands.bind(self.router)
        limits = settings.limits
        self.server = Server(
            "p2p",
            self._make_handler,
            listen=settings.listen,
            max_links=limits.max_inbound + limits.max_outbound + settings.max_pending_handshakes,
            write_high=settings.write_high,
        )
        self.links: dict[int, PeerConn] = {}
        self.by_addr: dict[Addr, PeerConn] = {}
        self.conns: dict[bytes, PeerConn] = {}  # ready peers by node id
        self.membership = Membership(self)
        self.bytes_in = self.bytes_out = self.packets_in = self.packets_out = 0
        self.dropped_out = 0
        self.discovery = Discovery(self)
        self._paused: set[PeerConn] = set()
        self._dirty: list[PeerConn] = []
        self._flush_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serving = asyncio.Event()

    # --- running ---

    async def run(self, froms: Sequence[tuple[Receiver[NetCommand], str]] = ()) -> None:
        """Serve until `stop()`; the event channels end when this returns."""
        self._loop = asyncio.get_running_loop()
        for sink in self.sinks.values():
            sink.on_drained = self._resume_readers
        try:
            async with asyncio.TaskGroup() as tg:
                errored = self.membership.errored
                tg.create_task(self.server.start(froms, self.commands.handle, self._allow, errored))
                tg.create_task(self._serve())
        except BaseExceptionGroup as eg:
            if len(eg.exceptions) == 1:
                raise eg.exceptions[0] from None
            raise
        finally:
            self.discovery.save()
            for sink in self.sinks.values():
                sink.close()

    async def _serve(self) -> None:
        try:
            addr = await self.server.wait_started()
        except LocalError:
            return  # start() failed and raises its own error
        if not self.external and addr is not None:
            self.external = format_addr(*addr)
            try:
                self.book.own.append(normalize_addr(self.external))
            except RemoteError:
                pass  # listening on 0.0.0.0 without an `external`: nothing to advertise
        for sink in self.sinks.values():
            self.server.spawn(sink.pump(), name=f"p2p:pump:{sink.name}")
        self.discovery.start()
        self._serving.set()
        self.log.info("p2p_started", node=self.key.short, listen=addr, network=self.network)

    async def wait_started(self) -> Addr:
        """Wait until serving (`external` is known); raise if it ended first."""
        addr = await self.server.wait_started()
        await self._serving.wait()
        assert addr is not None
        return addr

    def stop(self) -> None:
        """Say goodbye to every peer and stop; safe from any thread, and more than once."""
        call_on_loop(self._loop, self._goodbye, self.server.stop)

    def _goodbye(self) -> None:
        for pc in list(self.links.values()):
            pc.close("shutdown", "the node is stopping")
        self.server.stop()

    # --- connections ---

    def _make_handler(self, link: Link) -> PeerConn:
        s = self.settings
        conn = Connection(
            "responder" if link.inbound else "initiator",
            self.key,
            self.network,
            self.version,
            self.external,
            max_frame=s.max_frame,
            in_budget=s.in_budget,
            out_budget=s.out_budget,
            static_key=self.static_key,
        )
        return PeerConn(self, link, conn)

    def _allow(self, addr: Addr, inbound: bool) -> bool:
        now = self.clock()
        if not inbound:
            return not self.peers.is_banned(ip=addr[0], now=now)
        if self.membership.pending_in >= self.settings.max_pending_handshakes:
            return False
        return self.peers.allow_inbound(addr[0], now)

    def on_events(self, pc: PeerConn, events: list[Event]) -> None:
        """Everything one read from this peer produced, in order."""
        t = self.clock()
        pid: bytes = pc.peer_id  # type: ignore[assignment]  # a packet comes after the handshake
        on_packet = self.router.on_packet
        sinks = self.sink_list
        for sink in sinks:
            sink.hold()  # the whole read goes to each actor in one channel send
        n = 0
        try:
            for ev in events:
                if type(ev) is PacketReceived:
                    n += 1
                    try:
                        on_packet(
                            pid, ev.code, ev.msg_id, ev.response_handler, ev.is_response, ev.body, t
                        )
                    except RemoteError as e:
                        if self.membership.misbehaved(pid, None, e, t):
                            break
                elif isinstance(ev, HandshakeComplete):
                    if not self.membership.joined(pc, ev.peer, t):
                        break
                    pid = ev.peer.identity_key
                elif isinstance(ev, Disconnected):  # the peer said why it leaves
                    self.log.info("peer_goodbye", node=self.key.short, peer=pid, reason=ev.code)
                    pc.link.close(ev.code)
                    break
        finally:
            for sink in sinks:
                sink.release()
        self.packets_in += n
        if not pc.read_paused and any(s.overflow for s in self.sinks.values()):
            pc.read_paused = True
            pc.link.pause_reading()
            self._paused.add(pc)

    def _resume_readers(self) -> None:
        if any(s.overflow for s in self.sinks.values()):
            return
        for pc in self._paused:
            pc.read_paused = False
            pc.link.resume_reading()
        self._paused.clear()

    def forget_paused(self, pc: PeerConn) -> None:
        self._paused.discard(pc)

    def conn_of(self, link: Link) -> PeerConn | None:
        return self.links.get(link.id)

    def attach(self, pc: PeerConn) -> None:
        self.membership.attach(pc)

    def detach(self, pc: PeerConn) -> None:
        self.membership.detach(pc)

    def handshake_timed_out(self, pc: PeerConn) -> None:
        self.membership.handshake_timed_out(pc)

    def misbehaved(self, pid: bytes | None, ip: str | None, err: RemoteError, now: float) -> bool:
        return self.membership.misbehaved(pid, ip, err, now)

    # --- status ---

    def peer_views(self) -> list[PeerView]:
        """The connected peers, oldest first."""
        now = self.clock()
        out = []
        for c in self.peers.peers(now):
            pc = self.conns.get(c.peer_id)
            listen = pc.info.listen if pc is not None and pc.info is not None else ""
            rtt = pc.rtt if pc is not None else None
            out.append(
                PeerView(
                    c.peer_id,
                    c.addr,
                    listen,
                    c.inbound,
                    c.since,
                    round(c.score, 2),
                    None if rtt is None else round(rtt * 1000, 3),
                )
            )
        return out

    def status(self) -> dict[str, Any]:
        """This service's part of the node's status.json."""
        return {
            "p2p": self.external,
            "network": self.network,
            "peers": [
                {
                    "id": p.peer_id.hex(),
                    "addr": p.addr,
                    "listen": p.listen,
                    "inbound": p.inbound,
                    "since": round(p.since, 3),
                    "score": p.score,
                    "rtt_ms": p.rtt_ms,
                }
                for p in self.peer_views()
            ],
            "p2p_counters": self.counters(),
        }

    def counters(self) -> dict[str, int]:
        return {
            "peers": len(self.conns),
            "links": len(self.links),
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "dropped_out": self.dropped_out,
            "rate_limited": sum(self.router.limiter.limited.values()),
            "shaped_out": sum(self.router.egress.limited.values()),  # held to a peer's limit
            "bans": len(self.peers.bans.bans(self.clock())),
            "addresses": len(self.book),
        }

    # --- writing ---

    def mark_dirty(self, pc: PeerConn) -> None:
        self._dirty.append(pc)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        dirty, self._dirty = self._dirty, []
        for pc in dirty:
            pc.flush()

    def emit_all(self, event: NetEvent) -> None:
        for sink in self.sinks.values():
            sink.send_nowait(event)

    def sinks_for(self, code: int) -> Sink:
        """The channel of the actor that owns `code` (a no-op sink if none runs here)."""
        spec = TABLE.get(code)
        sink = self.sinks.get(spec.owner) if spec is not None else None
        return sink if sink is not None else _NOWHERE


class _Nowhere:
    def send_nowait(self, item: NetEvent, /) -> None:
        pass


_NOWHERE = _Nowhere()
