"""The node's RPC actor: the server with the chain, net and social methods and topics.

    rpc = make_rpc(rpc_config(config.rpc), reader, social_reader, genesis, ...)
    RpcActor(rpc.server, froms=[(chain_to_rpc_rx, "chain")])

Handlers read the store through their own read-only connections; `tx_submit`
asks the blockchain actor (`SubmitTx` on `chain_inbox`) and waits for its
`Answer` on the RPC inbox, where committed blocks and social events arrive too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agora.blockchain.block import Block
from agora.blockchain.chain import Chain, CommitResult
from agora.blockchain.genesis import Genesis
from agora.blockchain.reader import Reader
from agora.config import RPCSection, parse_addr
from agora.rpc.app import RpcConfig
from agora.rpc.chain_blocks import blocks_topic, publish_block
from agora.rpc.chain_methods import register_chain_methods
from agora.rpc.dev_faucet import faucet_enabled, register_dev_faucet
from agora.rpc.messages import Publisher
from agora.rpc.metrics import Metrics
from agora.rpc.net_methods import node_health, register_net_methods
from agora.rpc.server import RpcServer
from agora.social import live
from agora.social import rpc as social_rpc
from agora.social.service import SocialReader
from agora.spsc import Receiver, Sender

Status = Callable[[], dict[str, Any]]


class RpcActor:
    name = "rpc"

    def __init__(self, server: RpcServer, froms: Sequence[tuple[Receiver[Any], str]]) -> None:
        self.server = server
        self.froms = list(froms)

    async def run(self) -> None:
        await self.server.run(self.froms)

    def stop(self) -> None:
        self.server.stop()


def rpc_config(section: RPCSection) -> RpcConfig:
    """The RPC server's settings from the node's `[rpc]` config section."""
    return RpcConfig(
        listen=parse_addr(section.listen),
        max_connections_per_ip=section.max_connections_per_ip,
        calls_per_s_per_ip=section.calls_per_s_per_ip,
        call_burst_per_ip=section.call_burst_per_ip,
        limit_loopback=section.limit_loopback,
    )


def make_rpc(
    config: RpcConfig,
    genesis: Genesis,
    chain: Chain,
    reader: Reader,
    social: SocialReader,
    *,
    chain_inbox: Sender[Any],
    net_status: Status,
    node_info: Status,
    peers: Callable[[], int],
    solo: bool,
    catching_up: Callable[[], bool],
    metrics: Metrics | None = None,
) -> RpcServer:
    """The RPC server with every method; `chain` is only read (sizes, pending nonces)."""
    mempool = chain.mempool
    server = RpcServer(
        config,
        reader=reader,
        metrics=metrics,
        health=node_health(reader, peers=peers, solo=solo, catching_up=catching_up),
    )
    register_chain_methods(
        server.registry,
        reader,
        genesis,
        chain_inbox=chain_inbox,
        mempool_size=lambda: len(mempool),
        catching_up=catching_up,
        in_mempool=lambda h: h in mempool,
        pending_nonce=lambda sender: _pending_nonce(chain, sender),
    )
    register_net_methods(server.registry, net_status, node_info)
    server.add_topic(blocks_topic(reader))
    social_rpc.register(server.registry, social, server.hub)
    if faucet_enabled(genesis):  # devnets: the web client's faucet button
        register_dev_faucet(
            server.registry,
            reader,
            genesis,
            chain_inbox=chain_inbox,
            pending_nonce=lambda sender: _pending_nonce(chain, sender),
        )
    return server


def _pending_nonce(chain: Chain, sender: bytes) -> int:
    # An RPC thread reads what the blockchain thread changes: a run emptied between
    # the check and the read means nothing is pending any more.
    try:
        return chain.mempool.pending_nonce(sender)
    except (IndexError, KeyError):
        return 0


def block_publisher(tx: Sender[Any]) -> Callable[[Block, CommitResult], None]:
    """What the blockchain actor calls after each commit: the block, then the social
    events, to the RPC's subscriptions (never blocks; a dropped event makes the
    subscribers read the store)."""
    publisher = Publisher(tx)

    def publish(block: Block, result: CommitResult) -> None:
        publish_block(publisher, block, result.tx_hashes)
        live.publish(publisher, result)

    return publish
