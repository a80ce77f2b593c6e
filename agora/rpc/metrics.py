"""Prometheus metrics for one node, on its own registry (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The node sets the chain gauges; the RPC server keeps its own counters."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.height = Gauge("agora_height", "Height of the last committed block", registry=r)
        self.peers = Gauge("agora_peers", "Connected peers", registry=r)
        self.mempool_size = Gauge("agora_mempool_size", "Transactions in the mempool", registry=r)
        self.round = Gauge(
            "agora_consensus_round", "Consensus round at the current height", registry=r
        )
        self.block_interval = Gauge(
            "agora_block_interval_seconds", "Time between the last two committed blocks", registry=r
        )
        self.tx_per_s = Gauge(
            "agora_tx_per_second", "Transactions committed per second, recent", registry=r
        )
        self.rpc_calls = Counter(
            "agora_rpc_calls",
            "JSON-RPC calls by method and outcome",
            ["method", "outcome"],
            registry=r,
        )
        self.rpc_connections = Gauge("agora_rpc_connections", "Open RPC connections", registry=r)
        self.rpc_subscriptions = Gauge("agora_rpc_subscriptions", "Live subscriptions", registry=r)
        self.rpc_lagged = Counter(
            "agora_rpc_lagged", "WebSocket clients dropped for reading too slowly", registry=r
        )
        # Calls are counted in a plain dict and moved into `rpc_calls` when read: a labelled
        # Counter costs a lock and a lookup per call, a fifth of a batched tx_submit.
        self._calls: dict[tuple[str, int], int] = {}

    def on_call(self, method: str, outcome: int) -> None:
        """Count a call; `method` is "" for names nobody registered (so labels stay bounded).
        Called on the RPC actor's loop only."""
        key = (method, outcome)
        calls = self._calls
        calls[key] = calls.get(key, 0) + 1

    def flush_calls(self) -> None:
        """Move the counted calls into `rpc_calls` (before it is read)."""
        calls, self._calls = self._calls, {}
        for (method, outcome), n in calls.items():
            self.rpc_calls.labels(method or "unknown", str(outcome) if outcome else "ok").inc(n)

    def render(self) -> bytes:
        self.flush_calls()
        return generate_latest(self.registry)  # type: ignore[no-any-return]
