"""Accounts (balance, nonce, quota bucket) and the rules every tx's envelope must pass.

Quotas are token buckets measured in block time, in thousandths of an action so
that all arithmetic is integer and every node computes the same. The bucket's
size (and its refill per window) is `quota_base` for a newcomer, plus one for
each `quota_balance_step` of balance, up to `quota_max`. A new account starts
with a full bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from agora.blockchain.genesis import Params
from agora.blockchain.state import Overlay
from agora.blockchain.tx import MAX_INT, Envelope, TxError
from agora.codec import Canonical

ACCOUNT_PREFIX: Final = b"core/a/"
MILLI: Final = 1000


class Account(Canonical, frozen=True):
    balance: int = 0
    nonce: int = 0  # of the last tx executed; 0 before the first
    quota_milli: int = -1  # tokens in the bucket; -1: never used, i.e. full
    quota_ms: int = 0  # block time of the last refill


NEW_ACCOUNT: Final = Account()
_decoder = msgspec.msgpack.Decoder(Account)


def account_key(pub_key: bytes) -> bytes:
    return ACCOUNT_PREFIX + pub_key


# Encoded account -> decoded account. A tx's accounts are decoded again and again
# (mempool entry, the module's check, apply) from the same few values; a dict hit
# costs a fraction of a decode. Accounts are immutable, so sharing them is safe.
_loaded: dict[bytes, Account] = {}
_LOADED_MAX = 100_000
_decode_account = _decoder.decode
_encode_account: Callable[[Account], bytes] = msgspec.msgpack.Encoder().encode


def load_account(raw: bytes | None) -> Account:
    if raw is None:
        return NEW_ACCOUNT
    acct = _loaded.get(raw)
    if acct is None:
        acct = _decode_account(raw)
        if len(_loaded) >= _LOADED_MAX:
            _loaded.clear()
        _loaded[raw] = acct
    return acct


def dump_account(acct: Account) -> bytes:
    """The account's bytes; remembered, so that loading them back costs nothing."""
    raw = _encode_account(acct)
    if len(_loaded) >= _LOADED_MAX:
        _loaded.clear()
    _loaded[raw] = acct
    return raw


def quota_capacity(params: Params, balance: int) -> int:
    step = params.quota_balance_step
    bonus = balance // step if step > 0 else 0
    return min(params.quota_max, params.quota_base + bonus) * MILLI


def quota_now(params: Params, acct: Account, time_ms: int) -> int:
    """Tokens (in milli-actions) available at block time `time_ms`."""
    cap = quota_capacity(params, acct.balance)
    if acct.quota_milli < 0:
        return cap
    elapsed = max(0, time_ms - acct.quota_ms)
    return min(cap, acct.quota_milli + elapsed * cap // params.quota_window_ms)


def min_fee(params: Params, size: int) -> int:
    return params.min_fee + params.fee_per_byte * size


def charge(
    params: Params, acct: Account, env: Envelope, quota_cost: int, height: int, time_ms: int
) -> Account:
    """The account after `env` is charged, or TxError. Depends only on the account,
    the envelope and the block, never on what other modules do: so a block can be
    validated without executing it."""
    if env.expiry and height > env.expiry:
        raise TxError("expired", f"tx expired at height {env.expiry}, block is {height}")
    if env.nonce <= acct.nonce:
        raise TxError("nonce_too_old", f"nonce {env.nonce} already used (at {acct.nonce})")
    if env.nonce != acct.nonce + 1:
        raise TxError("nonce_gap", f"nonce {env.nonce}, expected {acct.nonce + 1}")
    fee = env.fee
    balance = acct.balance
    if fee > balance:
        raise TxError("insufficient_balance", f"fee {fee} > balance {balance}")
    # quota_now and quota_capacity, inlined: this runs for every tx, twice or more.
    step, top, base = params.quota_balance_step, params.quota_max, params.quota_base
    cap = base + balance // step if step > 0 else base
    cap = (top if cap > top else cap) * MILLI
    tokens = acct.quota_milli
    if tokens < 0:
        tokens = cap
    else:
        if time_ms > acct.quota_ms:
            tokens += (time_ms - acct.quota_ms) * cap // params.quota_window_ms
        if tokens > cap:
            tokens = cap
    cost = quota_cost * MILLI
    if cost > tokens:
        raise TxError(
            "over_quota", f"quota: {tokens / MILLI:.3f} actions left, this costs {quota_cost}"
        )
    balance -= fee
    if fee:  # the bucket may shrink with the balance that paid the fee
        cap = base + balance // step if step > 0 else base
        cap = (top if cap > top else cap) * MILLI
        if tokens > cap:
            tokens = cap
    tokens -= cost
    return Account(balance, env.nonce, tokens if tokens > 0 else 0, time_ms)


def credit(overlay: Overlay, pub_key: bytes, amount: int) -> None:
    """Add `amount` to an account (fees to the proposer); saturates rather than overflow."""
    key = account_key(pub_key)
    a = load_account(overlay.get(key))
    balance = min(MAX_INT, a.balance + amount)
    overlay.put(key, dump_account(Account(balance, a.nonce, a.quota_milli, a.quota_ms)))
