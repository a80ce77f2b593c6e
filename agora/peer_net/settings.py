"""What the peer_net service needs to know, taken from the `[p2p]` config section.

The service reads nothing else from the config, so tests and the benchmark
build `NetSettings` directly (port 0, short intervals, lifted rate limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agora.config import P2PSection
from agora.errors import LocalError, RemoteError
from agora.peer_net.addr import parse_addr
from agora.peer_net.peers import PeerLimits
from agora.peer_net.ratelimit import Limit


@dataclass(frozen=True, slots=True)
class NetSettings:
    listen: tuple[str, int] = ("127.0.0.1", 0)
    external: str = ""  # the address we advertise; "" means `listen` (once bound)
    bootstrap: tuple[str, ...] = ()
    limits: PeerLimits = field(default_factory=PeerLimits)
    max_frame: int = 4 * 1024 * 1024
    in_budget: int = 8 * 1024 * 1024
    out_budget: int = 16 * 1024 * 1024
    write_high: int = 1 << 20  # the socket's write buffer; over it we queue in the Connection
    handshake_timeout_s: float = 5.0
    request_timeout_s: float = 10.0  # for peer_net's own requests (PEX, PING)
    pex_interval_s: float = 5.0
    dial_interval_s: float = 1.0
    ping_interval_s: float = 15.0
    save_interval_s: float = 5.0  # the address book, when it changed
    max_pending_handshakes: int = 64  # connections not yet through the handshake
    rate_overrides: Mapping[int, Limit | None] = field(default_factory=dict)  # None: unlimited

    def __post_init__(self) -> None:
        intervals = (
            self.handshake_timeout_s,
            self.request_timeout_s,
            self.pex_interval_s,
            self.dial_interval_s,
            self.ping_interval_s,
            self.save_interval_s,
        )
        if not all(t > 0 for t in intervals):
            raise LocalError("peer_net timeouts and intervals must be positive", code="bad_config")
        if self.max_frame < 1024 or self.max_pending_handshakes < 1:
            raise LocalError("peer_net limits are too small", code="bad_config")

    @classmethod
    def from_config(cls, p2p: P2PSection) -> NetSettings:
        try:
            bootstrap = tuple(p2p.bootstrap)
            for a in bootstrap:
                parse_addr(a)
            host, port = _listen(p2p.listen)
            limits = PeerLimits(
                max_inbound=p2p.max_inbound,
                max_outbound=p2p.max_outbound,
                ban_seconds=p2p.ban_seconds,
            )
        except RemoteError as e:  # from parse_addr: but the config is ours
            raise LocalError(f"[p2p]: {e}", code="bad_config") from None
        return cls(
            listen=(host, port),
            external=p2p.external,
            bootstrap=bootstrap,
            limits=limits,
            max_frame=p2p.max_frame,
            in_budget=max(p2p.in_budget, 2 * (p2p.max_frame + 64)),
            out_budget=max(p2p.out_budget, 2 * (p2p.max_frame + 64)),
            handshake_timeout_s=p2p.handshake_timeout_s,
            request_timeout_s=p2p.request_timeout_s,
            pex_interval_s=p2p.pex_interval_s,
        )


def _listen(text: str) -> tuple[str, int]:
    """A listen address may be 0.0.0.0 or port 0, which a peer's address may not."""
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") else host
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise LocalError(f"not a listen address: {text!r}", code="bad_config")
    return host, int(port)
