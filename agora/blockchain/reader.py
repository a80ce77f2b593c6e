"""Read-only queries on the store, for RPC in any thread.

Each thread gets its own `mode=ro` connection; each query that reads more than
one row runs in one read transaction, so it sees one committed block.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import msgspec

from agora.blockchain.account import Account, account_key, load_account
from agora.blockchain.block import Block, Header, decode_commit
from agora.blockchain.merkle import MerkleProof, merkle_proof
from agora.blockchain.schema import TX_ID_BITS
from agora.blockchain.tx import Envelope, Tx
from agora.blockchain.votes import Commit, DuplicateVoteEvidence
from agora.errors import LocalError

_header = msgspec.msgpack.Decoder(Header)
_envelope = msgspec.msgpack.Decoder(Envelope)
_evidence = msgspec.msgpack.Decoder(list[DuplicateVoteEvidence])


@dataclass(frozen=True)
class Status:
    height: int
    block_id: bytes
    state_root: bytes  # after the last block
    time_ms: int
    genesis_hash: bytes


@dataclass(frozen=True)
class TxInfo:
    tx: Tx
    hash: bytes
    height: int
    index: int
    code: str  # "ok" or why its module refused it (its fee was still charged)
    message: str
    proof: MerkleProof | None  # inclusion in the block's tx_root (get_tx only)


class Reader:
    def __init__(self, path: Path | str) -> None:
        if str(path) == ":memory:":
            raise LocalError("a reader needs a file, not :memory:", code="bad_config")
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | str) -> Reader:
        r = cls(path)
        r._conn()  # fail now if the file is missing
        return r

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _snapshot(self) -> sqlite3.Connection:
        conn = self._conn()
        conn.execute("BEGIN")
        return conn

    def status(self) -> Status:
        conn = self._snapshot()
        try:
            info = dict(conn.execute("SELECT key, value FROM chain_info").fetchall())
            row = conn.execute(
                "SELECT height, id, state_root, time FROM blocks ORDER BY height DESC LIMIT 1"
            ).fetchone()
        finally:
            conn.execute("COMMIT")
        g = bytes(info["genesis_hash"])
        if row is None:
            t0 = int.from_bytes(info["genesis_time"], "big")
            return Status(0, g, bytes(info["root0"]), t0, g)
        return Status(row[0], bytes(row[1]), bytes(row[2]), row[3], g)

    def get_block(self, key: int | bytes) -> Block | None:
        """By height or by block id."""
        conn = self._snapshot()
        try:
            col = "height" if isinstance(key, int) else "id"
            row = conn.execute(
                f"SELECT height, header, last_commit, evidence FROM blocks WHERE {col} = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            base = row[0] << TX_ID_BITS
            txs = conn.execute(
                "SELECT envelope, signature, body FROM txs WHERE id >= ? AND id < ? ORDER BY id",
                (base, base + (1 << TX_ID_BITS)),
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return Block(
            _header.decode(row[1]),
            [Tx(_envelope.decode(e), bytes(s), None if b is None else bytes(b)) for e, s, b in txs],
            None if row[2] is None else decode_commit(row[2]),
            _evidence.decode(row[3]),
        )

    def get_commit(self, height: int) -> Commit | None:
        """The commit that made block `height` final, as this node received it."""
        q = "SELECT seen_commit FROM blocks WHERE height = ?"
        row = self._conn().execute(q, (height,)).fetchone()
        return None if row is None else decode_commit(row[0])

    def get_tx(self, tx_hash: bytes) -> TxInfo | None:
        """The tx, where it is, its result and a proof of inclusion in its block."""
        conn = self._snapshot()
        try:
            row = conn.execute(
                "SELECT id, envelope, signature, body, code, message FROM txs WHERE hash = ?",
                (tx_hash,),
            ).fetchone()
            if row is None:
                return None
            height, index = row[0] >> TX_ID_BITS, row[0] & ((1 << TX_ID_BITS) - 1)
            base = height << TX_ID_BITS
            hashes = [
                bytes(h)
                for (h,) in conn.execute(
                    "SELECT hash FROM txs WHERE id >= ? AND id < ? ORDER BY id",
                    (base, base + (1 << TX_ID_BITS)),
                )
            ]
        finally:
            conn.execute("COMMIT")
        tx = Tx(_envelope.decode(row[1]), bytes(row[2]), None if row[3] is None else bytes(row[3]))
        return TxInfo(tx, tx_hash, height, index, row[4], row[5], merkle_proof(hashes, index))

    def txs_by_sender(self, sender: bytes, after_nonce: int = 0, limit: int = 50) -> list[TxInfo]:
        """The sender's txs in nonce order, `limit` at a time: pass the last nonce seen."""
        rows = (
            self._conn()
            .execute(
                "SELECT id, hash, envelope, signature, body, code, message FROM txs"
                " WHERE sender = ? AND nonce > ? ORDER BY nonce LIMIT ?",
                (sender, after_nonce, max(0, min(limit, 1000))),
            )
            .fetchall()
        )
        return [
            TxInfo(
                Tx(_envelope.decode(e), bytes(s), None if b is None else bytes(b)),
                bytes(h),
                i >> TX_ID_BITS,
                i & ((1 << TX_ID_BITS) - 1),
                code,
                msg,
                None,
            )
            for i, h, e, s, b, code, msg in rows
        ]

    def account(self, pub_key: bytes) -> Account:
        q = "SELECT value FROM state WHERE key = ?"
        row = self._conn().execute(q, (account_key(pub_key),)).fetchone()
        return load_account(None if row is None else bytes(row[0]))

    def close(self) -> None:
        """Close every thread's connection (call it when no query is running)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
