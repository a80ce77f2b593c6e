"""The RPC server's settings, and what every connection handler shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agora.errors import LocalError

if TYPE_CHECKING:
    from agora.rpc.clients import ClientLimits
    from agora.rpc.files import StaticFiles
    from agora.rpc.jsonrpc import Dispatcher
    from agora.rpc.metrics import Metrics
    from agora.rpc.subscriptions import Hub
    from agora.rpc.ws import WsSession
    from agora.server import Server


@dataclass(frozen=True)
class RpcConfig:
    """Limits and timeouts; seconds are floats, sizes are bytes."""

    listen: tuple[str, int] = ("127.0.0.1", 26657)
    max_connections: int = 1024
    max_connections_per_ip: int = 64  # loopback exempt unless limit_loopback
    calls_per_s_per_ip: float = 100.0  # a token bucket per IP; 0 turns it off
    call_burst_per_ip: int = 300
    limit_loopback: bool = False
    write_buffer: int = 1 << 20  # per connection; over it the client is not read
    max_body: int = 1 << 20  # a larger request body gets 413 before it is read
    max_header: int = 16 << 10  # request line and headers together; more gets 431
    max_batch: int = 100
    max_ws_message: int = 1 << 20  # a larger WebSocket message closes with 1009
    request_timeout: float = 10.0  # a request must arrive whole within this
    idle_timeout: float = 60.0  # a keep-alive connection with nothing to do is closed
    send_timeout: float = 30.0  # a client that takes none of our bytes this long is dropped
    handler_timeout: float = 10.0  # default for async and blocking handlers
    ws_queue: int = 1024  # notifications a slow WebSocket reader may be behind
    ws_inflight: int = 32  # concurrent async calls per WebSocket before it stops being read
    ws_ping_interval: float = 20.0  # and a WebSocket that answers no ping within it is dropped
    subscriptions_per_connection: int = 64
    backfill_page: int = 100
    live_buffer: int = 1000  # live items a subscription holds while it reads the store
    threads: int = 4  # for blocking handlers and store reads
    max_blocking: int = 64  # blocking calls queued or running; more get OVERLOADED
    static_dir: str | None = None  # None: the web client shipped in agora/rpc/static/
    cors_origin: str = "*"

    def __post_init__(self) -> None:
        for name in (
            "max_body",
            "max_header",
            "max_batch",
            "max_connections_per_ip",
            "call_burst_per_ip",
            "max_ws_message",
            "ws_queue",
            "threads",
        ):
            if getattr(self, name) < 1:
                raise LocalError(f"rpc config: {name} must be >= 1", code="bad_config")
        if not 0 <= self.calls_per_s_per_ip < float("inf"):
            raise LocalError("rpc config: calls_per_s_per_ip must be >= 0", code="bad_config")
        for name in ("request_timeout", "idle_timeout", "send_timeout", "handler_timeout"):
            if getattr(self, name) <= 0:
                raise LocalError(f"rpc config: {name} must be > 0", code="bad_config")


def _ok() -> dict[str, Any]:
    return {"ok": True}


@dataclass
class App:
    """Shared by every connection of one RPC server."""

    config: RpcConfig
    dispatcher: Dispatcher
    hub: Hub
    static: StaticFiles
    metrics: Metrics
    health: Callable[[], dict[str, Any]] = field(default=_ok)  # "ok": False answers 503
    server: Server | None = None  # set once the generic server exists
    sessions: set[WsSession] = field(default_factory=set)  # open WebSockets
    clients: ClientLimits | None = None  # per-IP limits; None: none
