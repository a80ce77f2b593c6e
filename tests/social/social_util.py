"""Test helpers for tests/social: a real Chain with the social module, driven block by block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nacl.signing

from agora.blockchain.chain import Chain, CommitResult
from agora.blockchain.devchain import Driver, dev_keys
from agora.blockchain.genesis import Genesis, Params, make_dev_genesis
from agora.blockchain.tx import Tx, TxError, make_tx
from agora.codec import encode
from agora.social import bodies as b
from agora.social.module import SocialModule

CHAIN = "agora-test"
PARAMS = Params(quota_base=1000, quota_max=1000)


def genesis_for(
    vals: list[nacl.signing.SigningKey],
    users: list[nacl.signing.SigningKey],
    *,
    params: Params = PARAMS,
    social: dict[str, Any] | None = None,
) -> Genesis:
    return make_dev_genesis(
        CHAIN,
        [bytes(k.verify_key) for k in vals],
        [bytes(k.verify_key) for k in users],
        amount=1_000_000,
        genesis_time=1_700_000_000_000,
        params=params,
        modules={"social": social if social is not None else {"max_post_chars": 280}},
    )


class Net:
    """One chain, its validators and some funded users with their next nonces."""

    def __init__(
        self,
        path: Path | str,
        n_users: int = 6,
        *,
        social: dict[str, Any] | None = None,
        params: Params = PARAMS,
    ) -> None:
        self.vals = dev_keys("val", 1)
        self.users = dev_keys("user", n_users)
        self.genesis = genesis_for(self.vals, self.users, params=params, social=social)
        self.path = path
        self.chain = Chain.open(path, self.genesis, [SocialModule()], synchronous="NORMAL")
        self.driver = Driver(self.chain, self.vals)
        self.nonces: dict[bytes, int] = {}

    def key(self, i: int) -> bytes:
        return bytes(self.users[i].verify_key)

    def tx(self, who: int, kind: str, body: Any, *, fee: int | None = None) -> Tx:
        k = self.users[who]
        pk = bytes(k.verify_key)
        n = self.nonces.get(pk, self.chain.view().account(pk).nonce) + 1
        self.nonces[pk] = n
        if fee is None:
            fee = 100 if kind == "handle_register" else 0
        return make_tx(k, CHAIN, n, kind, encode(body), fee=fee)

    def block(self, *txs: Tx) -> CommitResult:
        return self.driver.step(txs)

    def do(self, who: int, kind: str, body: Any, **kw: Any) -> tuple[bytes, CommitResult]:
        """One tx in its own block; asserts it succeeded; returns its hash."""
        tx = self.tx(who, kind, body, **kw)
        r = self.block(tx)
        assert r.results == [("ok", "")], r.results
        return r.tx_hashes[0], r

    def refused(self, who: int, kind: str, body: Any) -> TxError:
        """The mempool's error for this tx (its nonce is given back)."""
        tx = self.tx(who, kind, body)
        try:
            self.chain.mempool.add(tx)
        except TxError as e:
            self.nonces[tx.envelope.sender] -= 1
            return e
        raise AssertionError(f"{kind} was admitted")

    # shorthands
    def handle(self, who: int, h: str) -> None:
        self.do(who, "handle_register", b.HandleRegister(h))

    def post(
        self, who: int, text: str, reply_to: bytes | None = None, quote_of: bytes | None = None
    ) -> bytes:
        return self.do(who, "post", b.Post(text.encode(), reply_to, quote_of))[0]

    def target(self, who: int, kind: str, other: int) -> bytes:
        return self.do(who, kind, b.Target(self.key(other)))[0]

    def close(self) -> None:
        self.chain.close()
