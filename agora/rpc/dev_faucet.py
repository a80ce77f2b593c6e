"""`dev_faucet`: a devnet node funds an address from the well-known faucet key.

    if faucet_enabled(genesis):
        register_dev_faucet(rpc.registry, reader, genesis, chain_inbox=..., pending_nonce=...)

A browser cannot hold the faucet's key, so the node signs the same `transfer`
that `agora account fund` signs in the CLI. It exists only on chains whose
genesis funds `dev_signing_key("faucet")`: a key everyone knows, which no real
network would fund. Each address is funded at most once per `interval_s`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from agora.blockchain.core_module import Transfer
from agora.blockchain.genesis import FAUCET_LABEL, Genesis, dev_signing_key
from agora.blockchain.messages import SubmitTx
from agora.blockchain.reader import Reader
from agora.blockchain.tx import encode_tx, make_tx, tx_hash
from agora.codec import encode
from agora.errors import LocalError
from agora.rpc.codes import OVERLOADED, TIMEOUT, TX_REJECTED, UNAVAILABLE, RpcError
from agora.rpc.methods import Context, Registry
from agora.spsc import BrokenChannel, ChannelClosed, Sender, WouldBlock

AMOUNT = 10_000  # as `agora account fund`
INTERVAL_S = 30.0
SUBMIT_WAIT_S = 5.0
_MAX_REMEMBERED = 10_000

Hash = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$", description="32 bytes, hex")]


class FaucetParams(msgspec.Struct, frozen=True):
    address: Hash  # the Ed25519 public key to fund


class FaucetResult(msgspec.Struct, frozen=True):
    hash: str  # the transfer's tx hash: poll social_getTxResult / tx_get for it
    address: str
    amount: int


def faucet_enabled(genesis: Genesis) -> bool:
    """True when the genesis funds the well-known devnet faucet key."""
    faucet = bytes(dev_signing_key(FAUCET_LABEL).verify_key)
    return any(b.address == faucet and b.amount > 0 for b in genesis.balances)


class _Limiter:
    """When each address was last funded (monotonic seconds); bounded."""

    def __init__(self, interval_s: float, clock: Callable[[], float]) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.last: dict[str, float] = {}

    def wait_left(self, address: str) -> float:
        at = self.last.get(address)
        return 0.0 if at is None else max(0.0, at + self.interval_s - self.clock())

    def grant(self, address: str) -> None:
        now = self.clock()
        if len(self.last) >= _MAX_REMEMBERED:
            self.last = {a: t for a, t in self.last.items() if now - t < self.interval_s}
            if len(self.last) >= _MAX_REMEMBERED:
                raise RpcError(OVERLOADED, "the faucet is busy", code="too_many_requests")
        self.last[address] = now


def register_dev_faucet(
    registry: Registry,
    reader: Reader,
    genesis: Genesis,
    *,
    chain_inbox: Sender[Any],
    pending_nonce: Callable[[bytes], int],
    amount: int = AMOUNT,
    interval_s: float = INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    key = dev_signing_key(FAUCET_LABEL)
    faucet = bytes(key.verify_key)
    limiter = _Limiter(interval_s, clock)
    locks: list[asyncio.Lock] = []  # made on the RPC loop, at the first call

    def next_nonce() -> int:  # on the RPC thread pool: a SQLite read
        return max(reader.account(faucet).nonce, int(pending_nonce(faucet))) + 1

    def send(msg: SubmitTx) -> None:
        try:
            chain_inbox.send_nowait(msg)
        except WouldBlock:
            raise RpcError(OVERLOADED, "the node is busy, retry later", code="overloaded") from None
        except (BrokenChannel, ChannelClosed):
            raise RpcError(UNAVAILABLE, "the node is stopping", code="unavailable") from None

    async def fund(ctx: Context, p: FaucetParams) -> FaucetResult:
        address = p.address.lower()
        left = limiter.wait_left(address)
        if left > 0:
            raise RpcError(
                OVERLOADED,
                f"the faucet funds an address once every {interval_s:.0f} s: retry in {left:.0f} s",
                code="too_many_requests",
            )
        if not locks:
            locks.append(asyncio.Lock())
        async with locks[0]:  # one faucet tx at a time: each takes the next nonce
            loop = asyncio.get_running_loop()
            nonce = await loop.run_in_executor(ctx.services.executor, next_nonce)
            body = encode(Transfer(bytes.fromhex(address), amount))
            tx = make_tx(key, genesis.chain_id, nonce, "transfer", body)
            data, expect = encode_tx(tx), tx_hash(tx).hex()
            got = await ctx.services.asks.ask(
                lambda t: send(SubmitTx(ticket=t, tx=data)), SUBMIT_WAIT_S
            )
            if got != expect:
                raise LocalError(f"the chain answered {got!r} for tx {expect}", code="bad_answer")
            limiter.grant(address)
        return FaucetResult(expect, address, amount)

    registry.add(
        "dev_faucet", fund, params=FaucetParams, result=FaucetResult, tags=("dev",),
        summary=f"Devnets only: send {amount} tokens from the faucet to an address",
        errors=(TX_REJECTED, TIMEOUT, OVERLOADED, UNAVAILABLE), timeout=SUBMIT_WAIT_S + 5.0,
    )  # fmt: skip
