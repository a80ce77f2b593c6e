"""Executing a block: deterministic, in two phases.

Phase 1, for every tx in block order: signature, stateless checks, expiry,
nonce, fee and quota (`account.charge`); the fee and the nonce are charged.
These depend only on the state before the block and on the envelopes, so a
block can be validated without executing it; if one fails the block is
invalid. The fees go to the proposer at the end of phase 1.

Phase 2, for every tx in block order: its module's `check` then `apply`, on an
overlay of their own (and a savepoint if they touch index tables). A TxError
rolls back just that tx's writes and becomes its result; its fee and nonce
stay charged. Then each module's optional `end_block` writes what it gathered
during the block (index rows in bulk; see module.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agora.blockchain.account import Account, charge, credit, dump_account, load_account
from agora.blockchain.account import account_key as akey
from agora.blockchain.block import Block
from agora.blockchain.genesis import Genesis
from agora.blockchain.kinds import Registered, Registry
from agora.blockchain.mempool import Entry
from agora.blockchain.merkle import merkle_root
from agora.blockchain.module import ApplyContext, Event, StateView
from agora.blockchain.sigs import Verifier
from agora.blockchain.state import Overlay, Writes
from agora.blockchain.tx import TX_DOMAIN, TxError, tx_hash_parts
from agora.codec import encode
from agora.errors import RemoteError

Reader = Callable[[bytes], bytes | None]
_OK = ("ok", "")
Charged = tuple[dict[bytes, Account], int]  # phase 1: accounts after charging, total fees


@dataclass
class Prepared:
    """A block that passed the stateless checks and whose signatures verify."""

    block: Block
    block_id: bytes
    hashes: list[bytes]
    envelopes: list[bytes]
    kinds: list[Registered]
    bodies: list[Any]


@dataclass
class Executed:
    writes: Writes
    results: list[tuple[str, str]]  # (code, message) per tx; code "ok" on success
    failures: list[tuple[int, str, str]]
    events: list[Event] = field(default_factory=list)
    erasures: list[bytes] = field(default_factory=list)
    fees: int = 0


def block_error(i: int, e: TxError) -> RemoteError:
    """A tx that makes its block invalid: the proposer's fault, with the tx's own code."""
    return RemoteError(f"tx {i}: {e.message}", code=e.code, penalty=100)


def prepare(
    block: Block,
    registry: Registry,
    verifier: Verifier,
    *,
    allow_erased: bool,
    pooled: Mapping[bytes, Entry] | None = None,
) -> Prepared:
    """Tx root, stateless checks, then signatures (the costly part) last. A tx found
    in `pooled` (the mempool's entries by hash) with the same body passed the same
    stateless checks on entry: its kind and decoded body are taken from there."""
    envs = [encode(t.envelope) for t in block.txs]
    hashes = [tx_hash_parts(e, t.signature) for e, t in zip(envs, block.txs, strict=True)]
    if merkle_root(hashes) != block.header.tx_root:
        raise RemoteError("tx_root does not match the txs", code="bad_tx_root", penalty=100)
    if len(set(hashes)) != len(hashes):
        raise RemoteError("the same tx twice in a block", code="duplicate_tx", penalty=100)
    kinds: list[Registered] = []
    bodies: list[Any] = []
    for i, (tx, env) in enumerate(zip(block.txs, envs, strict=True)):
        # The hash commits to the envelope and signature; the body is compared.
        e = pooled.get(hashes[i]) if pooled is not None else None
        if e is not None and tx.body is not None and e.tx.body == tx.body:
            kinds.append(e.reg)
            bodies.append(e.body)
            continue
        try:
            reg, body = registry.check(tx, env, allow_erased=allow_erased)
        except TxError as e:
            raise block_error(i, e) from None
        kinds.append(reg)
        bodies.append(body)
    txs = block.txs
    items = [
        (t.envelope.sender, TX_DOMAIN + e, t.signature) for t, e in zip(txs, envs, strict=True)
    ]
    ok = verifier.verify_many(hashes, items)
    if not all(ok):
        i = ok.index(False)
        raise RemoteError(f"tx {i}: bad signature", code="bad_signature", penalty=100)
    return Prepared(block, block.id(), hashes, envs, kinds, bodies)


def charge_block(p: Prepared, registry: Registry, read: Reader, prev_time: int) -> Charged:
    """Phase 1 without writing: the accounts after every tx was charged, and the fees.

    Quotas refill up to the previous block's time (`prev_time`, the genesis time for
    block 1), which the mempool also uses: a proposer can take the mempool's accounts
    as they are, and a block's own time cannot be stretched to buy quota."""
    h = p.block.header
    params = registry.params
    accounts: dict[bytes, Account] = {}
    fees = 0
    for i, tx in enumerate(p.block.txs):
        env = tx.envelope
        acct = accounts.get(env.sender)
        if acct is None:
            acct = load_account(read(akey(env.sender)))
        try:
            acct = charge(params, acct, env, p.kinds[i].spec.quota_cost, h.height, prev_time)
        except TxError as e:
            raise block_error(i, e) from None
        accounts[env.sender] = acct
        fees += env.fee
    return accounts, fees


def execute(
    p: Prepared,
    registry: Registry,
    genesis: Genesis,
    store_read: Reader,
    conn: Any,
    charged: Charged,
) -> Executed:
    """Phase 2, after phase 1's result (`charge_block`, computed by validation)."""
    h = p.block.header
    block = Overlay(store_read)
    accounts, fees = charged
    for pk, acct in accounts.items():
        block.put(akey(pk), dump_account(acct))
    if fees:
        credit(block, h.proposer, fees)
    out = Executed(block.writes, [], [], fees=fees)
    view = StateView(block.get, conn, genesis, h.height, h.time)
    results, failures, events, erasures = out.results, out.failures, out.events, out.erasures
    bget, merged = block.get, block.writes
    scratch: dict[str, Any] = {}  # the modules' per-block buffers (Module.end_block)
    for i, (tx, reg, body, th) in enumerate(
        zip(p.block.txs, p.kinds, p.bodies, p.hashes, strict=True)
    ):
        module = reg.module
        ctx = ApplyContext(
            module.name, Overlay(bget), view, conn, th, tx.envelope.sender, i, scratch
        )
        try:
            module.check(tx, body, view)
            module.apply(tx, body, ctx)
        except RemoteError as e:
            if ctx.savepoint:
                conn.execute("ROLLBACK TO tx")
                conn.execute("RELEASE tx")
            results.append((e.code, e.message))
            failures.append((i, e.code, e.message))
            continue
        if ctx.savepoint:
            conn.execute("RELEASE tx")
        merged.update(ctx.overlay.writes)
        if ctx.events:
            events.extend(ctx.events)
        if ctx.erasures:
            erasures.extend(ctx.erasures)
        results.append(_OK)
    for m in registry.modules:
        if m.name in scratch and (end := getattr(m, "end_block", None)) is not None:
            end(scratch[m.name], conn)
    return out


def genesis_writes(genesis: Genesis, registry: Registry, store_read: Reader, conn: Any) -> Writes:
    """Every module's initial state, in module order."""
    block = Overlay(store_read)
    view = StateView(block.get, conn, genesis, 0, genesis.genesis_time)
    for m in registry.modules:
        init = getattr(m, "genesis", None)  # optional
        if init is None:
            continue
        ctx = ApplyContext(m.name, Overlay(block.get), view, conn)
        init(genesis, ctx)
        if ctx.savepoint:
            conn.execute("RELEASE tx")
        ctx.overlay.merge_into(block)
    return block.writes
