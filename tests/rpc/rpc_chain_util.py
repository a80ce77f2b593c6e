"""A real chain in a tmp SQLite file with a few blocks of transfers, the chain methods on an
RpcServer over it, and a chain actor that answers SubmitTx from the chain's real mempool."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import msgspec
import nacl.signing
from rpc_helpers import FakeSession

from agora.blockchain.chain import Chain, CommitResult
from agora.blockchain.core_module import Transfer
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.genesis import Params
from agora.blockchain.messages import SubmitTx
from agora.blockchain.reader import Reader
from agora.blockchain.tx import Tx, make_tx
from agora.codec import encode
from agora.errors import RemoteError
from agora.rpc.app import RpcConfig
from agora.rpc.chain_methods import register_chain_methods
from agora.rpc.messages import Answer
from agora.rpc.server import RpcServer
from agora.spsc import Receiver, Sender

CHAIN_ID = "agora-rpc-test"
# Three actions an hour each, whatever the balance: over_quota is easy to reach.
PARAMS = Params(quota_base=3, quota_balance_step=10**12, quota_max=3, quota_window_ms=3_600_000)
_json = msgspec.json.Encoder()


class World:
    """Two validators, four funded users (1000 each), and blocks 1..5:
    2: u0 -> u1 100, u1 -> u2 50;  3: u0 -> u2 800, u0 -> u1 800 (fails: insufficient_balance);
    4: u2 -> u3 10 with fee 5;  1 and 5 are empty."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vals = dev_keys("v", 2)
        self.users = dev_keys("u", 5)
        self.genesis = dev_genesis(
            self.vals, self.users[:4], chain_id=CHAIN_ID, amount=1000, params=PARAMS
        )
        self.chain = Chain.open(path, self.genesis, synchronous="NORMAL")
        self.driver = Driver(self.chain, self.vals)
        self.nonces: dict[int, int] = {}
        self.blocks: dict[int, CommitResult] = {}
        self.step()
        self.step(self.transfer(0, 1, 100), self.transfer(1, 2, 50))
        self.step(self.transfer(0, 2, 800), self.transfer(0, 1, 800))
        self.step(self.transfer(2, 3, 10, fee=5))
        self.step()
        self.reader = Reader.open(path)

    def key(self, i: int) -> bytes:
        return bytes(self.users[i].verify_key)

    def transfer(
        self,
        src: int,
        dst: int,
        amount: int,
        *,
        fee: int = 0,
        nonce: int | None = None,
        signer: nacl.signing.SigningKey | None = None,
        chain_id: str = CHAIN_ID,
    ) -> Tx:
        """A signed transfer; without `nonce`, the user's next one (and it is counted)."""
        if nonce is None:
            nonce = self.nonces.get(src, 0) + 1
            self.nonces[src] = nonce
        body = encode(Transfer(self.key(dst), amount))
        return make_tx(signer or self.users[src], chain_id, nonce, "transfer", body, fee=fee)

    def step(self, *txs: Tx) -> CommitResult:
        r = self.driver.step(txs)
        self.blocks[r.height] = r
        return r

    def rpc(self, outbox: Sender[Any] | None = None, **kw: Any) -> RpcServer:
        """An RpcServer with the chain methods; SubmitTx goes to `outbox`."""
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0)), reader=self.reader, outbox=outbox)
        register_chain_methods(rpc.registry, self.reader, self.genesis, **kw)
        return rpc

    def hooks(self) -> dict[str, Any]:
        """The callables a node passes, read from the real mempool."""
        pool = self.chain.mempool

        def pending_nonce(sender: bytes) -> int:
            mine = [e.tx.envelope.nonce for e in pool.by_hash.values()
                    if e.tx.envelope.sender == sender]  # fmt: skip
            return max(mine, default=0)

        return {
            "mempool_size": lambda: len(pool),
            "catching_up": lambda: False,
            "in_mempool": lambda h: h in pool,
            "pending_nonce": pending_nonce,
        }

    def close(self) -> None:
        self.reader.close()
        self.chain.close()


def answer_submit(chain: Chain, msg: SubmitTx) -> Answer:
    """What the blockchain actor answers: the hash, or the mempool's (or decoder's) error."""
    try:
        h = chain.mempool.add(chain.decode_tx(msg.tx))
    except RemoteError as e:
        return Answer(msg.ticket, error=e)
    return Answer(msg.ticket, result=h.hex())


async def chain_actor(chain: Chain, inbox: Receiver[Any], rpc_inbox: Sender[Any]) -> None:
    """A stand-in blockchain actor: SubmitTx in, Answer out on the RPC inbox; until closed."""
    async for msg in inbox:
        assert isinstance(msg, SubmitTx), msg
        rpc_inbox.send_nowait(answer_submit(chain, msg))


async def call(rpc: RpcServer, method: str, params: Any = None) -> dict[str, Any]:
    """One call through the dispatcher, in process."""
    doc: dict[str, Any] = {"jsonrpc": "2.0", "id": 7, "method": method}
    if params is not None:
        doc["params"] = params
    out = rpc.dispatcher.dispatch(_json.encode(doc), FakeSession())
    if isinstance(out, Coroutine):
        out = await out
    assert out is not None
    res: dict[str, Any] = msgspec.json.decode(out)
    assert res["id"] == 7
    return res


def error_of(res: dict[str, Any]) -> tuple[int, str]:
    assert "error" in res, res
    return res["error"]["code"], res["error"]["data"]["code"]
