"""The network methods (net_peers, net_info) and the `/health` builder.

    register_net_methods(rpc.registry, net.status, node_info)
    RpcServer(..., health=node_health(reader, peers=lambda: len(net.conns), solo=...))

`net_status` is `PeerNet.status()` as it is (`p2p`, `network`, `peers`,
`p2p_counters`); `node_info` is the node's identity (`node_id`, `name`, `rpc`).
Both are plain dicts read on the RPC loop; a shape that does not fit is our
bug (`bad_status`), not the client's.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from agora import PROTOCOL_VERSION, __version__
from agora.blockchain.reader import Reader
from agora.errors import AgoraError, LocalError
from agora.rpc import views as v
from agora.rpc.methods import Context, Registry

T = TypeVar("T")
MAX_BLOCK_AGE_S = 30.0


class _Peer(msgspec.Struct, frozen=True):
    id: str
    addr: str
    inbound: bool
    since: float  # seconds since the epoch
    score: float
    listen: str = ""
    rtt_ms: float | None = None


class _NetStatus(msgspec.Struct, frozen=True):
    peers: list[_Peer] = []
    p2p: str = ""
    network: str = ""
    p2p_counters: dict[str, int] = {}


class _NodeInfo(msgspec.Struct, frozen=True):
    node_id: str
    name: str = ""
    network: str = ""
    rpc: str = ""


def _parse(doc: dict[str, Any], type_: type[T]) -> T:
    try:
        return msgspec.convert(doc, type_)
    except msgspec.ValidationError as e:
        raise LocalError(f"{type_.__name__}: {e}", code="bad_status") from None


def register_net_methods(
    registry: Registry,
    net_status: Callable[[], dict[str, Any]],
    node_info: Callable[[], dict[str, Any]],
) -> None:
    """Add `net_peers` and `net_info`."""

    def peers(ctx: Context) -> list[v.PeerView]:
        return [
            v.PeerView(p.id, p.addr, p.listen, p.inbound, round(p.since * 1000), p.score, p.rtt_ms)
            for p in _parse(net_status(), _NetStatus).peers
        ]

    def info(ctx: Context) -> v.NetInfo:
        net = _parse(net_status(), _NetStatus)
        me = _parse(node_info(), _NodeInfo)
        inbound = sum(1 for p in net.peers if p.inbound)
        counts = v.PeerCounts(len(net.peers), inbound, len(net.peers) - inbound)
        c = net.p2p_counters
        return v.NetInfo(
            me.node_id, me.name, net.network or me.network, __version__, PROTOCOL_VERSION,
            {"p2p": net.p2p, "rpc": me.rpc}, counts, c.get("bans", 0), c.get("addresses", 0),
        )  # fmt: skip

    registry.add(
        "net_peers", peers, result=list[v.PeerView], tags=("net",),
        summary="The connected peers, oldest first",
    )  # fmt: skip
    registry.add(
        "net_info", info, result=v.NetInfo, tags=("net",),
        summary="This node: id, network, version, listen addresses, peer and ban counts",
    )  # fmt: skip


def node_health(
    reader: Reader,
    *,
    peers: Callable[[], int],
    solo: bool,
    catching_up: Callable[[], bool] | None = None,
    max_block_age_s: float = MAX_BLOCK_AGE_S,
    clock: Callable[[], float] = time.time,
) -> Callable[[], dict[str, Any]]:
    """The `/health` callback: `ok` (else 503, with `reasons`) when the node has peers (or
    is `solo`, the only validator), is not catching up, and its last block (the genesis
    time before the first) is at most `max_block_age_s` old."""

    def health() -> dict[str, Any]:
        reasons: list[str] = []
        n = peers()
        if n == 0 and not solo:
            reasons.append("no_peers")
        syncing = catching_up is not None and bool(catching_up())
        if syncing:
            reasons.append("catching_up")
        doc: dict[str, Any] = {"peers": n, "catching_up": syncing}
        try:
            st = reader.status()
        except (sqlite3.Error, AgoraError) as e:
            reasons.append("store_unreadable")
            doc["error"] = str(e)[:200]
        else:
            age = round(clock() * 1000) - st.time_ms
            doc.update(height=st.height, last_block_age_ms=age)
            if age > max_block_age_s * 1000:
                reasons.append("stale_block")
        return {"ok": not reasons, "reasons": reasons, **doc}

    return health
