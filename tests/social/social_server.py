"""An in-process node for CLI tests: a real chain behind a real RPC server on loopback.

`tx_submit` puts the tx in the mempool and commits a block at once (as a one-validator
devnet would a second later), then publishes the block's social events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from social_util import Net

from agora.blockchain.tx import TxError
from agora.rpc.app import RpcConfig
from agora.rpc.codes import TX_REJECTED
from agora.rpc.messages import Publish, Publisher, RpcInbound
from agora.rpc.methods import Context
from agora.rpc.server import RpcServer
from agora.social import live
from agora.social.rpc import register
from agora.social.service import SocialReader
from agora.spsc import Receiver, Sender, channel


class SubmitTx(msgspec.Struct, frozen=True):
    tx: str  # hex of the encoded tx


@contextmanager
def node(net: Net) -> Iterator[str]:
    """Serve `net` on 127.0.0.1:<ephemeral>; yields the URL."""
    reader = SocialReader.open(net.path, net.genesis)
    tx: Sender[RpcInbound]
    rx: Receiver[RpcInbound]
    tx, rx = channel(4096, Publish)
    pub = Publisher(tx)
    lock = threading.Lock()
    rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), threads=2))
    rpc.registry.errors.add_class(TX_REJECTED, TxError)
    register(rpc.registry, reader, rpc.hub)

    def submit(ctx: Context, p: SubmitTx) -> str:
        with lock:
            t = net.chain.decode_tx(bytes.fromhex(p.tx))
            h = net.chain.mempool.add(t)
            live.publish(pub, net.driver.commit(net.driver.propose()))
        return h.hex()

    rpc.registry.add("tx_submit", submit, params=SubmitTx, result=str, blocking=True)
    started = threading.Event()
    addr: list[Any] = []

    async def serve() -> None:
        task = asyncio.ensure_future(rpc.run([(rx, "social")]))
        addr.append(await rpc.wait_started())
        started.set()
        await task

    th = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    th.start()
    if not started.wait(10):
        raise RuntimeError("the RPC server did not start")
    try:
        host, port = addr[0][:2]
        yield f"http://{host}:{port}"
    finally:
        rpc.stop()
        th.join(10)
        reader.close()
