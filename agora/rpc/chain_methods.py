"""The chain methods: chain_status, chain_getBlock, chain_getCommit, tx_submit, tx_get,
account_get.

    register_chain_methods(rpc.registry, reader, genesis,
                           mempool_size=lambda: len(chain.mempool), ...)

Reads run on the RPC thread pool against the chain `Reader`; `tx_submit`
decodes the tx here (a malformed one never reaches the blockchain actor) and
asks the blockchain actor with `SubmitTx`, which answers with the tx hash or
the mempool's `TxError` (-32010, `data.code` says which check failed). The
`tx_submit` calls of one JSON-RPC batch go as one `SubmitTxs` (one question,
one mempool entry for all), each answered in its place.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from agora.blockchain.account import MILLI, quota_capacity, quota_now
from agora.blockchain.block import Header, decode_commit
from agora.blockchain.genesis import Genesis
from agora.blockchain.messages import SubmitTx, SubmitTxs
from agora.blockchain.reader import Reader
from agora.blockchain.schema import TX_ID_BITS
from agora.blockchain.tx import MAX_INT, Tx, TxError, decode_tx, tx_hash
from agora.errors import LocalError, RemoteError
from agora.rpc import views as v
from agora.rpc.codes import (
    INVALID_PARAMS,
    NOT_FOUND,
    OVERLOADED,
    TIMEOUT,
    TX_REJECTED,
    UNAVAILABLE,
    RpcError,
)
from agora.rpc.methods import Context, Registry
from agora.spsc import BrokenChannel, ChannelClosed, Sender, WouldBlock

Hash = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$", description="32 bytes, hex")]
Height = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT - 1)]
# Checked by binascii in the handler: a regex over a 1 MiB string holds the loop for 0.1 s.
TxHex = Annotated[str, msgspec.Meta(min_length=2, description="hex, an even number of digits")]
SUBMIT_WAIT_S = 5.0
_header = msgspec.msgpack.Decoder(Header)


class GetBlock(msgspec.Struct, frozen=True):
    """Exactly one of `height` and `hash` (the block id)."""

    height: Height | None = None
    hash: Hash | None = None


class GetCommit(msgspec.Struct, frozen=True):
    height: Height


class SubmitTxParams(msgspec.Struct, frozen=True):
    tx: TxHex  # the canonical msgpack encoding of the signed tx


class GetTx(msgspec.Struct, frozen=True):
    hash: Hash


class GetAccount(msgspec.Struct, frozen=True):
    address: Hash  # the account's Ed25519 public key


def _not_found(what: str, **data: Any) -> RpcError:
    return RpcError(NOT_FOUND, f"{what} not found", code="not_found", data=data)


def _query(reader: Reader, sql: str, args: tuple[Any, ...]) -> list[Any]:
    # The Reader's own per-thread read-only connection; these rows never change once written.
    return reader.conn().execute(sql, args).fetchall()


def _results(reader: Reader, height: int, n: int) -> list[tuple[str, str]]:
    base = height << TX_ID_BITS
    q = "SELECT code, message FROM txs WHERE id >= ? AND id < ? ORDER BY id"
    rows = _query(reader, q, (base, base + (1 << TX_ID_BITS)))
    if len(rows) != n:
        raise LocalError(f"block {height}: {n} txs but {len(rows)} results", code="bad_store")
    return [(str(c), str(m)) for c, m in rows]


def _send(to: Sender[Any], msg: Any) -> None:
    try:
        to.send_nowait(msg)
    except WouldBlock:
        raise RpcError(OVERLOADED, "the node is busy, retry later", code="overloaded") from None
    except (BrokenChannel, ChannelClosed):
        raise RpcError(UNAVAILABLE, "the node is stopping", code="unavailable") from None


def register_chain_methods(
    registry: Registry,
    reader: Reader,
    genesis: Genesis,
    *,
    chain_inbox: Sender[Any] | None = None,
    mempool_size: Callable[[], int] | None = None,
    catching_up: Callable[[], bool] | None = None,
    in_mempool: Callable[[bytes], bool] | None = None,
    pending_nonce: Callable[[bytes], int] | None = None,
    submit_wait_s: float = SUBMIT_WAIT_S,
) -> None:
    """Add the chain methods. `chain_inbox`: where `SubmitTx` goes (None: the RPC server's
    outbox, through `Context.ask`). The callables are optional and run on RPC threads, so
    they must only read: `mempool_size`, `catching_up`, `in_mempool(tx_hash)` (tx_get says
    `pending`) and `pending_nonce(sender)`, the highest nonce it has in the mempool (0: none)."""
    registry.errors.add_class(TX_REJECTED, TxError)
    registry.errors.add(TX_REJECTED, "missing_body")  # listed in rpc_discover like the rest
    params = genesis.params
    vals = sorted(genesis.validators, key=lambda x: x.pub_key)
    validators = [v.ValidatorView(x.pub_key.hex(), x.power) for x in vals]
    total = sum(x.power for x in vals)

    def chain_status(ctx: Context) -> v.ChainStatus:
        st = reader.status()
        return v.ChainStatus(
            genesis.chain_id, st.height, st.block_id.hex(), st.time_ms, st.state_root.hex(),
            st.genesis_hash.hex(), validators, total,
            None if catching_up is None else bool(catching_up()),
            None if mempool_size is None else int(mempool_size()),
        )  # fmt: skip

    def get_block(ctx: Context, p: GetBlock) -> v.BlockView:
        if (p.height is None) == (p.hash is None):
            raise RpcError(INVALID_PARAMS, "give exactly one of height and hash",
                           code="invalid_params")  # fmt: skip
        key: int | bytes = p.height if p.height is not None else bytes.fromhex(p.hash or "")
        block = reader.get_block(key)
        if block is None:
            raise _missing_block(p)
        return v.block_view(block, _results(reader, block.height, len(block.txs)))

    def _missing_block(p: GetBlock) -> RpcError:
        if p.height is not None:
            return _not_found(f"block {p.height}", height=reader.status().height)
        return _not_found("block")

    def get_commit(ctx: Context, p: GetCommit) -> v.CommitView:
        # The commit block height+1 carries is the one the chain vouches for; the tip has
        # only the one this node received.
        rows = _query(reader, "SELECT last_commit FROM blocks WHERE height = ?", (p.height + 1,))
        if rows and rows[0][0] is not None:
            return v.commit_view(decode_commit(rows[0][0]), canonical=True)
        seen = reader.get_commit(p.height)
        if seen is None:
            raise _not_found(f"commit {p.height}", height=reader.status().height)
        return v.commit_view(seen, canonical=False)

    def decode(p: SubmitTxParams) -> tuple[bytes, Tx]:
        if len(p.tx) > 2 * params.max_tx_bytes:
            n = params.max_tx_bytes
            raise RpcError(INVALID_PARAMS, f"tx: over the limit of {n} bytes", code="oversize")
        try:
            data = binascii.a2b_hex(p.tx)  # unlike bytes.fromhex, no spaces
        except (binascii.Error, ValueError):
            raise RpcError(INVALID_PARAMS, "tx: not hex", code="invalid_params") from None
        try:
            return data, decode_tx(data, params.max_tx_bytes)
        except RemoteError as e:
            raise RpcError(INVALID_PARAMS, e.message, code=e.code) from None

    async def ask(ctx: Context, make: Callable[[int], Any]) -> Any:
        if chain_inbox is None:
            return await ctx.ask(make, submit_wait_s)
        inbox = chain_inbox
        return await ctx.services.asks.ask(lambda t: _send(inbox, make(t)), submit_wait_s)

    async def submit(ctx: Context, p: SubmitTxParams) -> v.SubmitResult:
        data, tx = decode(p)
        expect = tx_hash(tx).hex()
        got = await ask(ctx, lambda ticket: SubmitTx(ticket=ticket, tx=data))
        if got != expect:
            raise LocalError(f"the chain answered {got!r} for tx {expect}", code="bad_answer")
        return v.SubmitResult(expect)

    async def submit_many(ctx: Context, ps: list[SubmitTxParams]) -> list[Any]:
        """A batch's tx_submit calls: one question to the chain for all of them."""
        out: list[Any] = []
        txs: list[Tx] = []
        raws: list[bytes] = []
        for p in ps:
            try:
                data, tx = decode(p)
            except RpcError as e:
                out.append(e)
                continue
            out.append(None)
            txs.append(tx)
            raws.append(data)
        if not txs:
            return out
        got = await ask(ctx, lambda ticket: SubmitTxs(ticket=ticket, txs=txs, raw=raws))
        if not isinstance(got, list) or len(got) != len(txs):
            raise LocalError(f"the chain answered {len(got)} verdicts for {len(txs)} txs",
                             code="bad_answer")  # fmt: skip
        verdicts = iter(got)
        for i, slot in enumerate(out):
            if slot is None:
                r = next(verdicts)
                out[i] = r if isinstance(r, RemoteError) else v.SubmitResult(r)
        return out

    def get_tx(ctx: Context, p: GetTx) -> v.TxInclusion:
        h = bytes.fromhex(p.hash)
        info = reader.get_tx(h)
        if info is None or info.proof is None:
            data = {} if in_mempool is None else {"pending": bool(in_mempool(h))}
            raise _not_found("tx (not in a block)", **data)
        rows = _query(reader, "SELECT id, header FROM blocks WHERE height = ?", (info.height,))
        if not rows:
            raise LocalError(f"tx {p.hash} is in missing block {info.height}", code="bad_store")
        root = _header.decode(rows[0][1]).tx_root
        pr = info.proof
        proof = v.TxProof(pr.index, pr.size, [x.hex() for x in pr.path], root.hex())
        tx = v.tx_view(info.tx, info.code, info.message, h)
        return v.TxInclusion(tx, info.height, info.index, bytes(rows[0][0]).hex(), proof)

    def get_account(ctx: Context, p: GetAccount) -> v.AccountView:
        key = bytes.fromhex(p.address)
        acct = reader.account(key)
        st = reader.status()  # after the account: its time is at least the state's
        top = acct.nonce
        pending = None
        if pending_nonce is not None:
            top = max(top, int(pending_nonce(key)))
            pending = top - acct.nonce
        left = quota_now(params, acct, st.time_ms) / MILLI
        cap = quota_capacity(params, acct.balance) // MILLI
        return v.AccountView(
            key.hex(), acct.balance, acct.nonce, top + 1, pending, left, cap, st.height
        )

    nf = (NOT_FOUND, INVALID_PARAMS)
    reads: list[tuple[str, Any, Any, Any, str, tuple[int, ...]]] = [
        ("chain_status", chain_status, None, v.ChainStatus,
         "Chain id, height, last block, state root, validators, sync state", ()),
        ("chain_getBlock", get_block, GetBlock, v.BlockView,
         "A block by height or by id: header, txs with results, last commit, evidence", nf),
        ("chain_getCommit", get_commit, GetCommit, v.CommitView,
         "The +2/3 precommits that made block `height` final", nf),
        ("tx_get", get_tx, GetTx, v.TxInclusion,
         "A committed tx, its result, and a proof of inclusion in its block's tx_root", nf),
        ("account_get", get_account, GetAccount, v.AccountView,
         "Balance, nonce, next nonce and quota of an account (to build its next tx)",
         (INVALID_PARAMS,)),
    ]  # fmt: skip
    for name, fn, par, res, summary, errors in reads:
        registry.add(name, fn, params=par, result=res, summary=summary, tags=("chain",),
                     blocking=True, errors=errors)  # fmt: skip
    registry.add(
        "tx_submit", submit, params=SubmitTxParams, result=v.SubmitResult, tags=("chain",),
        summary="Submit a signed tx to the mempool; its hash, or why it was refused",
        errors=(INVALID_PARAMS, TX_REJECTED, TIMEOUT, OVERLOADED, UNAVAILABLE),
        timeout=submit_wait_s + 1.0, many=submit_many,
    )  # fmt: skip
