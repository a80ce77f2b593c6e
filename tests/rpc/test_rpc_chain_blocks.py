"""chain_subscribeBlocks on a real chain store: backfill from SQLite, then live blocks."""

from __future__ import annotations

from pathlib import Path

from rpc_helpers import WsClient, run, serving

from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.reader import Reader
from agora.rpc.app import RpcConfig
from agora.rpc.chain_blocks import blocks_topic, publish_block
from agora.rpc.messages import Publish, Publisher, RpcInbound
from agora.rpc.server import RpcServer
from agora.spsc import Receiver, Sender, channel


def test_blocks_from_the_store_then_live(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    keys = dev_keys("v", 1)
    chain = Chain.open(path, dev_genesis(keys), synchronous="NORMAL")
    driver = Driver(chain, keys)
    ids = {}
    for _ in range(5):
        r = driver.step()
        ids[r.height] = r.block_id.hex()
    reader = Reader.open(path)

    async def scenario() -> list[dict[str, object]]:
        tx: Sender[RpcInbound]
        rx: Receiver[RpcInbound]
        tx, rx = channel(16, Publish)
        pub = Publisher(tx)
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), backfill_page=2))
        rpc.add_topic(blocks_topic(reader))
        got = []
        async with serving(rpc, [(rx, "chain")]) as addr:
            ws = await WsClient.connect(addr)
            sid = (await ws.call("chain_subscribeBlocks", {"cursor": 2}))["result"]
            for _ in range(3):
                got.append((await ws.recv())["params"])
            for _ in range(2):  # the node commits, then announces
                r = driver.step()
                ids[r.height] = r.block_id.hex()
                block = reader.get_block(r.height)
                assert block is not None
                publish_block(pub, block)
                got.append((await ws.recv())["params"])
            assert all(p["subscription"] == sid for p in got)
            await ws.close()
        return [p["result"] for p in got]

    results = run(scenario())
    assert [r["height"] for r in results] == [3, 4, 5, 6, 7]
    assert [r["cursor"] for r in results] == [3, 4, 5, 6, 7]
    assert all(r["id"] == ids[r["height"]] for r in results)
    assert results[1]["prev_hash"] == ids[3]
    reader.close()
    chain.close()
