"""Read-only queries on the store, for RPC in any thread.

Each thread gets its own `mode=ro` connection; each query that reads more than
one row runs in one read transaction, so it sees one committed block.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import msgspec

from agora.blockchain.account import Account, account_key, load_account
from agora.blockchain.block import Block, Header, decode_commit
from agora.blockchain.merkle import MerkleProof, merkle_proof
from agora.blockchain.schema import TX_ID_BITS, key8
from agora.blockchain.tx import Envelope, Tx
from agora.blockchain.txindex import IDS_BY_HKEY
from agora.blockchain.votes import Commit, DuplicateVoteEvidence
from agora.codec import sha256
from agora.sqlite_ro import ReadOnlyPool

_header = msgspec.msgpack.Decoder(Header)
_envelope = msgspec.msgpack.Decoder(Envelope)
_evidence = msgspec.msgpack.Decoder(list[DuplicateVoteEvidence])


_INDEX_MASK = (1 << TX_ID_BITS) - 1


def _tx(raw: bytes, body: bytes | None) -> Tx:
    """A stored tx: envelope bytes + 64-byte signature, and the body (None once erased)."""
    raw = bytes(raw)
    return Tx(_envelope.decode(raw[:-64]), raw[-64:], None if body is None else bytes(body))


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


class Reader(ReadOnlyPool):
    @classmethod
    def open(cls, path: Path | str) -> Reader:
        r = cls(path)
        r.conn()  # fail now if the file is missing
        return r

    def _snapshot(self) -> sqlite3.Connection:
        conn = self.conn()
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
                "SELECT tx, body FROM txs WHERE id >= ? AND id < ? ORDER BY id",
                (base, base + (1 << TX_ID_BITS)),
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return Block(
            _header.decode(row[1]),
            [_tx(raw, body) for raw, body in txs],
            None if row[2] is None else decode_commit(row[2]),
            _evidence.decode(row[3]),
        )

    def get_results(self, height: int) -> list[tuple[str, str]]:
        """(code, message) of each tx of block `height`, in block order."""
        base = height << TX_ID_BITS
        rows = (
            self.conn()
            .execute(
                "SELECT code, message FROM txs WHERE id >= ? AND id < ? ORDER BY id",
                (base, base + (1 << TX_ID_BITS)),
            )
            .fetchall()
        )
        return [(str(c), str(m)) for c, m in rows]

    def get_commit(self, height: int) -> Commit | None:
        """The commit that made block `height` final, as this node received it."""
        q = "SELECT seen_commit FROM blocks WHERE height = ?"
        row = self.conn().execute(q, (height,)).fetchone()
        return None if row is None else decode_commit(row[0])

    def get_tx(self, tx_hash: bytes) -> TxInfo | None:
        """The tx, where it is, its result and a proof of inclusion in its block."""
        conn = self._snapshot()
        try:
            rows = conn.execute(
                f"SELECT id, tx, body, code, message FROM txs WHERE id IN ({IDS_BY_HKEY})",
                (key8(tx_hash),),
            ).fetchall()
            row = next((r for r in rows if sha256(r[1]) == tx_hash), None)
            if row is None:
                return None
            height, index = row[0] >> TX_ID_BITS, row[0] & _INDEX_MASK
            base = height << TX_ID_BITS
            hashes = [
                sha256(raw)
                for (raw,) in conn.execute(
                    "SELECT tx FROM txs WHERE id >= ? AND id < ? ORDER BY id",
                    (base, base + (1 << TX_ID_BITS)),
                )
            ]
        finally:
            conn.execute("COMMIT")
        tx = _tx(row[1], row[2])
        return TxInfo(tx, tx_hash, height, index, row[3], row[4], merkle_proof(hashes, index))

    def account(self, pub_key: bytes) -> Account:
        q = "SELECT value FROM state_now WHERE key = ?"
        row = self.conn().execute(q, (account_key(pub_key),)).fetchone()
        return load_account(None if row is None else bytes(row[0]))
