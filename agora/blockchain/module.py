"""The interface through which modules add tx kinds, state and index tables.

A module owns the keys `<name>/...` of the consensus KV (they are in the state
root) and any SQLite tables it creates in its migrations (index tables: NOT in
the root). Rule: what goes into the root may depend only on envelopes and on
bodies of non-erasable kinds. A node that syncs later receives erased bodies as
None (`apply` gets `body=None`) and must still reach the same root, so anything
derived from an erasable body (post text, mentions, hashtags) lives only in
index tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from agora.blockchain.account import ACCOUNT_PREFIX, Account, load_account
from agora.blockchain.genesis import Genesis
from agora.blockchain.state import Overlay
from agora.blockchain.tx import Tx, TxError


@dataclass(frozen=True)
class KindSpec:
    body_type: type[Any]  # a Canonical struct; the body is its canonical msgpack encoding
    max_body_bytes: int
    erasable: bool = False  # a later tx may erase the body (a social delete)
    quota_cost: int = 1  # actions charged to the sender's quota


class Event(msgspec.Struct, frozen=True):
    """Something a tx did that subscribers may want (a new post, a mention…)."""

    height: int
    tx_hash: bytes
    module: str
    name: str
    data: dict[str, Any]


class StateView:
    """Read-only access to the consensus KV (any module's keys) and to the index tables."""

    def __init__(
        self,
        read: Callable[[bytes], bytes | None],
        db: sqlite3.Connection,
        genesis: Genesis,
        height: int,
        time_ms: int,
    ) -> None:
        self._read = read
        self.db = db  # read only here: mempool checks must not write
        self.genesis = genesis
        self.height = height  # the height being executed, or the next one for mempool checks
        self.time_ms = time_ms  # that block's time, or the last block's for mempool checks

    def get(self, module: str, key: bytes) -> bytes | None:
        return self._read(module.encode() + b"/" + key)

    def account(self, pub_key: bytes) -> Account:
        return load_account(self._read(ACCOUNT_PREFIX + pub_key))


class ApplyContext:
    """What `Module.apply` (and `Module.genesis`) may touch. Writes through `put`/`delete`
    go to the module's own keys and into the root; `db` is the block's transaction, for
    index tables; a failed tx loses both its KV writes and its index rows."""

    __slots__ = (
        "_prefix",
        "block",
        "conn",
        "erasures",
        "events",
        "module",
        "overlay",
        "savepoint",
        "sender",
        "tx_hash",
        "tx_index",
        "view",
    )

    def __init__(
        self,
        module: str,
        overlay: Overlay,
        view: StateView,
        conn: sqlite3.Connection,
        tx_hash: bytes = b"",
        sender: bytes = b"",
        tx_index: int = 0,
        block: dict[str, Any] | None = None,
    ) -> None:
        self.module = module
        self._prefix = module.encode() + b"/"
        self.overlay = overlay
        self.view = view
        self.conn = conn
        self.tx_hash = tx_hash
        self.sender = sender
        self.tx_index = tx_index  # position in the block: (height, tx_index) orders txs
        self.events: list[Event] = []
        self.erasures: list[bytes] = []
        self.savepoint = False
        # Per-block scratch, one entry per module, shared by the block's txs and handed to
        # `end_block`; not rolled back with a failed tx (see Module.end_block).
        self.block: dict[str, Any] = {} if block is None else block

    @property
    def height(self) -> int:
        return self.view.height

    @property
    def time_ms(self) -> int:
        return self.view.time_ms

    @property
    def db(self) -> sqlite3.Connection:
        # Most txs never touch an index table, so the savepoint is opened on first use.
        if not self.savepoint:
            self.conn.execute("SAVEPOINT tx")
            self.savepoint = True
        return self.conn

    def get(self, key: bytes) -> bytes | None:
        return self.overlay.get(self._prefix + key)

    def put(self, key: bytes, value: bytes) -> None:
        self.overlay.put(self._prefix + key, value)

    def delete(self, key: bytes) -> None:
        self.overlay.delete(self._prefix + key)

    def read(self, module: str, key: bytes) -> bytes | None:
        """Another module's key, as this block has it so far."""
        return self.overlay.get(module.encode() + b"/" + key)

    def emit(self, name: str, **data: Any) -> None:
        self.events.append(Event(self.view.height, self.tx_hash, self.module, name, data))

    def erase_body(self, tx_hash: bytes) -> None:
        """Erase a stored tx body of an erasable kind, in this block's transaction.

        The tx, its hash and its block stay verifiable; the bytes leave the file
        (secure_delete) and the WAL (checkpoint after the block)."""
        self.erasures.append(tx_hash)


class Module(Protocol):
    name: str  # key prefix and table prefix
    kinds: Mapping[str, KindSpec]
    migrations: Sequence[str]  # SQL scripts, applied once each, in order

    def check(self, tx: Tx, body: Any, state: StateView) -> None:
        """Raise TxError(code, message) if the tx cannot succeed (mempool and execution)."""

    def apply(self, tx: Tx, body: Any, ctx: ApplyContext) -> None:
        """Deterministic writes. Raising TxError rolls back this tx's writes and records
        the code as its result (its fee and nonce stay charged)."""

    def genesis(self, genesis: Genesis, ctx: ApplyContext) -> None:
        """Initial state, written once when the store is created."""

    # Optional: `end_block(self, scratch: Any, conn: sqlite3.Connection) -> None`.
    # Called once after a block's last tx, inside the block's SQLite transaction and
    # before the block's rows are stored, with what the module left in
    # `ctx.block[name]` (only if it left something). It lets a module write its index
    # rows once per block, in bulk and in key order, rather than row by row per tx.
    # Index rows only (the KV writes were the txs'); raising fails the whole block.
    # Only what a tx can no longer fail after may be put there: a TxError rolls back
    # the tx's KV writes and savepoint, not the scratch. A block that fails midway
    # drops its scratch with it.


__all__ = ["ApplyContext", "Event", "KindSpec", "Module", "StateView", "TxError"]
