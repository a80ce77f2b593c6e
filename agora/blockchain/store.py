"""The writer side of the SQLite store: one connection, owned by the blockchain actor.

WAL mode, so that readers (their own read-only connections) never block the
writer. `synchronous=FULL` by default: in WAL mode NORMAL is also corruption
safe, but a power cut may lose the last blocks, and a validator that forgets a
block it voted on has to re-sync it; the bench measures both. `secure_delete`
so that an erased body's bytes are overwritten in the file, and a
`wal_checkpoint(TRUNCATE)` after a block that erased something so they leave
the WAL too.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from pathlib import Path
from typing import NamedTuple

import msgspec

from agora.blockchain.block import Block, encode_commit
from agora.blockchain.schema import CHAIN_MIGRATIONS, TX_ID_BITS, key8, migrate
from agora.blockchain.state import Changes, StateStore, Writes
from agora.blockchain.tx import Envelope
from agora.blockchain.txindex import IDS_BY_HKEY, TxHashIndex
from agora.blockchain.votes import Commit
from agora.codec import encode, sha256
from agora.errors import LocalError
from agora.logs import Log

log = Log("agora.blockchain.store")
_envelope = msgspec.msgpack.Decoder(Envelope)
_key8 = struct.Struct(">q").unpack_from  # schema.key8 without the slice: (value,)
# The writer's page cache. Index inserts land on random pages (tx hashes, post ids in
# the KV, per-author and per-tag indexes), which a 64 MiB cache kept re-reading from
# the OS once the store passed a few hundred MB. With the checkpoint interval below:
# ~15% less main-thread CPU and ~30% less wall time per post in bench social.
CACHE_KIB = 256 * 1024
PAGE_SIZE = 16 * 1024
# Checkpoint the WAL every 8,192 pages (128 MiB) rather than SQLite's 1,000: a block of
# 5,000 posts dirties thousands of pages, so the default checkpointed after every block;
# pages dirtied again by the next blocks are now copied into the file once. Durability
# is unchanged (each COMMIT is in the WAL, fsynced under synchronous=FULL).
WAL_CHECKPOINT_PAGES = 8192


class Head(NamedTuple):
    height: int
    block_id: bytes  # the genesis hash at height 0
    state_root: bytes
    time_ms: int


def connect(
    path: Path | str, *, readonly: bool = False, synchronous: str = "FULL"
) -> sqlite3.Connection:
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    elif readonly:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    if not readonly:
        # Only takes effect on a new file. 16 KiB pages: tx and state inserts cost
        # 10-20% less CPU than with 4 KiB (random index keys touch fewer pages).
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode = WAL")
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise LocalError(f"synchronous={synchronous!r}: FULL or NORMAL", code="bad_config")
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


class Store:
    def __init__(self, path: Path | str, synchronous: str = "FULL") -> None:
        self.path = path
        self.conn = connect(path, synchronous=synchronous)
        migrate(self.conn, "chain", CHAIN_MIGRATIONS)
        self.state = StateStore(self.conn)
        self.tx_index = TxHashIndex(self.conn)

    # --- opening

    def info(self, key: str) -> bytes | None:
        row = self.conn.execute("SELECT value FROM chain_info WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def head(self) -> Head | None:
        """Where the store is: the last committed block, or None before the genesis."""
        ghash = self.info("genesis_hash")
        if ghash is None:
            return None
        row = self.conn.execute(
            "SELECT height, id, state_root, time FROM blocks ORDER BY height DESC LIMIT 1"
        ).fetchone()
        if row is None:
            root0 = self.info("root0")
            time0 = int.from_bytes(self.info("genesis_time") or b"", "big")
            assert root0 is not None
            return Head(0, ghash, root0, time0)
        return Head(row[0], bytes(row[1]), bytes(row[2]), row[3])

    # --- the block transaction

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.state.forget()
        # The tiers' sizes only decide when to merge: a failing file must not hide the
        # error that brought us here.
        with contextlib.suppress(sqlite3.Error):
            self.state.tier.reload()
            self.tx_index.reload()

    def write_genesis(
        self, genesis_hash: bytes, genesis_time: int, root0: bytes, writes: Writes
    ) -> None:
        self.conn.executemany(
            "INSERT INTO chain_info (key, value) VALUES (?, ?)",
            [
                ("genesis_hash", genesis_hash),
                ("genesis_time", genesis_time.to_bytes(8, "big")),
                ("root0", root0),
            ],
        )
        self.state.write(writes)

    def write_block(
        self,
        block: Block,
        block_id: bytes,
        hashes: list[bytes],
        envelopes: list[bytes],
        commit: Commit,
        state_root: bytes,
        writes: Writes | Changes,
        results: list[tuple[str, str]],
    ) -> None:
        h = block.header
        self.conn.execute(
            "INSERT INTO blocks (height, id, time, ntx, header, last_commit, evidence,"
            " seen_commit, state_root) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                h.height,
                block_id,
                h.time,
                len(block.txs),
                encode(h),
                None if block.last_commit is None else encode_commit(block.last_commit),
                encode(block.evidence),
                encode_commit(commit),
                state_root,
            ),
        )
        base = h.height << TX_ID_BITS
        k8 = _key8
        rows = [
            (base + i, env + tx.signature, tx.body, code, message)
            for i, (tx, env, (code, message)) in enumerate(
                zip(block.txs, envelopes, results, strict=True)
            )
        ]
        self.conn.executemany(
            "INSERT INTO txs (id, tx, body, code, message) VALUES (?, ?, ?, ?, ?)", rows
        )
        self.tx_index.add([(k8(th)[0], base + i) for i, th in enumerate(hashes)])
        if block.evidence:
            self.conn.executemany(
                "INSERT INTO evidence (hash, height, validator, data) VALUES (?, ?, ?, ?)",
                [(e.hash(), h.height, e.vote_a.validator, encode(e)) for e in block.evidence],
            )
        self.state.write(writes)

    def erase_bodies(self, hashes: list[bytes], erasable_kinds: list[str]) -> int:
        """Inside the block transaction; only bodies of erasable kinds."""
        n = 0
        for th in hashes:
            for row_id, raw in self.conn.execute(
                f"SELECT id, tx FROM txs WHERE id IN ({IDS_BY_HKEY}) AND body IS NOT NULL",
                (key8(th),),
            ).fetchall():
                if sha256(raw) != th:
                    continue
                if _envelope.decode(bytes(raw[:-64])).kind not in erasable_kinds:
                    continue
                self.conn.execute("UPDATE txs SET body = NULL WHERE id = ?", (row_id,))
                n += 1
        return n

    def has_evidence(self, ev_hash: bytes) -> bool:
        q = "SELECT 1 FROM evidence WHERE hash = ?"
        return self.conn.execute(q, (ev_hash,)).fetchone() is not None

    def checkpoint(self) -> None:
        """Push erased bytes out of the WAL. A busy reader can delay it: then it is
        retried after the next block that erases something."""
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("wal_checkpoint_busy", path=str(self.path))

    def close(self) -> None:
        self.rollback()
        self.conn.close()


def store_digest(conn: sqlite3.Connection) -> bytes:
    """A hash of the whole consensus KV, for tests that compare two stores."""
    rows = conn.execute("SELECT key, value FROM state_now ORDER BY key").fetchall()
    return sha256(encode([(bytes(k), bytes(v)) for k, v in rows]))
