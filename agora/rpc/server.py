"""The RPC actor: the generic server with the HTTP/WebSocket handler, and its inbox.

    rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0)), registry, reader=reader)
    rpc.add_topic(Topic(...))
    await rpc.run(froms=[(inbound_rx, "events")])   # until rpc.stop()

Its inbound channel carries `RpcInbound` (`Publish` for subscriptions,
`Answer` for handlers waiting on another actor).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from time import monotonic
from typing import Any

from agora.errors import AgoraError, LocalError, RemoteError
from agora.logs import Log
from agora.rpc.app import App, RpcConfig
from agora.rpc.clients import ClientLimits
from agora.rpc.files import StaticFiles
from agora.rpc.http import handler_factory
from agora.rpc.jsonrpc import Dispatcher
from agora.rpc.messages import Answer, Asks, Publish
from agora.rpc.methods import Registry, Services
from agora.rpc.metrics import Metrics
from agora.rpc.subscriptions import Hub, Topic
from agora.rpc.topics import add_topic
from agora.runtime import call_on_loop
from agora.server import Addr, Server
from agora.spsc import Receiver, Sender

EXECUTOR_DRAIN_S = 10.0  # at stop: how long the queries still running may take

_log = Log("agora.rpc")


class RpcServer:
    def __init__(
        self,
        config: RpcConfig | None = None,
        registry: Registry | None = None,
        *,
        reader: Any = None,
        outbox: Sender[Any] | None = None,
        metrics: Metrics | None = None,
        health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        cfg = self.config = config or RpcConfig()
        self.registry = registry if registry is not None else Registry()
        self.metrics = metrics or Metrics()
        self.executor = ThreadPoolExecutor(cfg.threads, thread_name_prefix="rpc")
        # A backfill page and a live buffer fit in a WebSocket's queue, so
        # catching up alone never makes a subscriber look lagged.
        self.hub = Hub(
            self.executor,
            page=min(cfg.backfill_page, max(1, cfg.ws_queue // 2)),
            buffer=min(cfg.live_buffer, max(1, cfg.ws_queue // 4)),
            per_session=cfg.subscriptions_per_connection,
            errors=self.registry.errors,
        )
        self.services = Services(
            reader=reader,
            outbox=outbox,
            asks=Asks(),
            executor=self.executor,
            hub=self.hub,
            default_timeout=cfg.handler_timeout,
        )
        self.clients = ClientLimits(
            max_connections=cfg.max_connections_per_ip,
            rate=cfg.calls_per_s_per_ip,
            burst=cfg.call_burst_per_ip,
            limit_loopback=cfg.limit_loopback,
        )
        self.dispatcher = Dispatcher(
            self.registry,
            self.services,
            max_batch=cfg.max_batch,
            max_blocking=cfg.max_blocking,
            on_call=self.metrics.on_call,
            admit=lambda session, calls: self.clients.take(session.peer[0], calls, monotonic()),
        )
        self.metrics.rpc_subscriptions.set_function(lambda: len(self.hub))
        self.app = App(cfg, self.dispatcher, self.hub, StaticFiles(cfg.static_dir), self.metrics)
        self.app.clients = self.clients
        if health is not None:
            self.app.health = health
        self.server = Server(
            "rpc",
            handler_factory(self.app),
            listen=cfg.listen,
            max_links=cfg.max_connections,
            write_high=cfg.write_buffer,
        )
        self.app.server = self.server
        self.hub.spawn = self.server.spawn
        self._loop: asyncio.AbstractEventLoop | None = None

    def add_topic(self, topic: Topic) -> None:
        add_topic(self.registry, self.hub, topic)

    def handle_internal(self, msg: Any, server: Server) -> None:
        if isinstance(msg, Publish):
            self.hub.publish(msg)
        elif isinstance(msg, Answer):
            self.services.asks.answer(msg)
        else:
            raise LocalError(f"rpc inbox got a {type(msg).__name__}", code="bad_message")

    def handle_errored(self, error: AgoraError, addr: Addr, server: Server) -> None:
        if isinstance(error, RemoteError):
            _log.debug("rpc_client_error", addr=addr, code=error.code, error=error.message)
        else:
            _log.warning("rpc_error", addr=addr, code=error.code, error=error.message)

    async def run(
        self,
        froms: Sequence[tuple[Receiver[Any], str]] = (),
        allow_connection: Callable[[Addr, bool], bool] | None = None,
    ) -> None:
        """Serve until `stop()`."""
        self._loop = asyncio.get_running_loop()
        try:
            await self.server.start(
                froms,
                self.handle_internal,
                allow_connection or (lambda addr, inbound: True),
                self.handle_errored,
            )
        finally:
            # Queries still running on the pool read the store: whoever closes the readers
            # after this returns must find them done (bounded: each query is short).
            drain = asyncio.to_thread(self.executor.shutdown, wait=True, cancel_futures=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drain, EXECUTOR_DRAIN_S)

    async def wait_started(self) -> Addr:
        addr = await self.server.wait_started()
        assert addr is not None
        return addr

    @property
    def addr(self) -> Addr | None:
        return self.server.listen_addr

    def stop(self) -> None:
        """Say goodbye (1001) on every WebSocket, then stop; safe from any thread."""
        call_on_loop(self._loop, self._goodbye, self.server.stop)

    def _goodbye(self) -> None:
        for session in list(self.app.sessions):
            session.close_going_away()
        self.server.stop()
