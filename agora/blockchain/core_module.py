"""The core module: accounts and the native token, with its `transfer` kind.

Fees, nonces and quotas are charged by the executor for every tx (see
`account.charge`); this module moves tokens. A devnet's faucet is an ordinary
funded account (see `genesis.make_dev_genesis`), so it needs no special kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import msgspec

from agora.blockchain.account import Account, dump_account, load_account
from agora.blockchain.genesis import Genesis
from agora.blockchain.module import ApplyContext, KindSpec, StateView
from agora.blockchain.tx import MAX_INT, Key32, Tx, TxError
from agora.codec import Canonical

TOKEN = "agr"


class Transfer(Canonical, frozen=True):
    to: Key32
    amount: Annotated[int, msgspec.Meta(ge=1, le=MAX_INT)]


class CoreModule:
    name = "core"
    kinds: Mapping[str, KindSpec] = {"transfer": KindSpec(Transfer, 64, quota_cost=1)}
    migrations: Sequence[str] = ()

    def check(self, tx: Tx, body: Any, state: StateView) -> None:
        assert isinstance(body, Transfer)  # transfer bodies are never erasable
        if body.to == tx.envelope.sender:
            raise TxError("bad_body", "a transfer to oneself")
        bal = state.account(tx.envelope.sender).balance
        if body.amount > bal:
            raise TxError("insufficient_balance", f"amount {body.amount} > balance {bal}")

    def apply(self, tx: Tx, body: Any, ctx: ApplyContext) -> None:
        assert isinstance(body, Transfer)
        sender = tx.envelope.sender
        if body.to == sender:
            raise TxError("bad_body", "a transfer to oneself")
        src = load_account(ctx.get(b"a/" + sender))
        if body.amount > src.balance:
            raise TxError("insufficient_balance", f"amount {body.amount} > balance {src.balance}")
        dst = load_account(ctx.get(b"a/" + body.to))
        if dst.balance + body.amount > MAX_INT:
            raise TxError("bad_body", "recipient balance would overflow")
        ctx.put(b"a/" + sender, dump_account(_with_balance(src, src.balance - body.amount)))
        ctx.put(b"a/" + body.to, dump_account(_with_balance(dst, dst.balance + body.amount)))
        ctx.emit("transfer", sender=sender, to=body.to, amount=body.amount)

    def genesis(self, genesis: Genesis, ctx: ApplyContext) -> None:
        for b in genesis.balances:
            if b.amount:
                ctx.put(b"a/" + b.address, dump_account(Account(balance=b.amount)))


def _with_balance(acct: Account, balance: int) -> Account:
    return Account(balance, acct.nonce, acct.quota_milli, acct.quota_ms)
