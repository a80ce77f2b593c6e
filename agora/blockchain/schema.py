"""The SQLite schema, versioned per module, and the migrations that get a file there.

`meta` holds each module's schema version; a module's migrations are SQL
scripts applied in order, each in its own transaction with the version bump,
so a crash during a migration leaves the previous version intact.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from agora.errors import LocalError

# Tx rows are keyed by height << TX_ID_BITS | index, so a block's txs are one range.
TX_ID_BITS = 20
MAX_BLOCK_TXS = 1 << TX_ID_BITS

CHAIN_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE chain_info (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE blocks (
        height INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        time INTEGER NOT NULL,
        ntx INTEGER NOT NULL,
        header BLOB NOT NULL,
        last_commit BLOB,
        evidence BLOB NOT NULL,
        seen_commit BLOB NOT NULL,      -- the commit we received for this block
        state_root BLOB NOT NULL        -- root after executing it
    );
    CREATE TABLE txs (
        id INTEGER PRIMARY KEY,         -- height << 20 | index
        hkey INTEGER NOT NULL,          -- first 8 bytes of the tx hash (see key8)
        skey INTEGER NOT NULL,          -- first 8 bytes of the sender (dropped in v2)
        nonce INTEGER NOT NULL,         -- dropped in v2
        tx BLOB NOT NULL,               -- encode(envelope) + signature; hash = sha256(tx)
        body BLOB,                      -- NULL once erased
        code TEXT NOT NULL,             -- 'ok' or the failure code
        message TEXT NOT NULL
    );
    CREATE INDEX txs_by_hash ON txs (hkey);
    CREATE INDEX txs_by_sender ON txs (skey, nonce);  -- dropped in v2
    CREATE TABLE state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE evidence (
        hash BLOB PRIMARY KEY,
        height INTEGER NOT NULL,        -- of the block that included it
        validator BLOB NOT NULL,
        data BLOB NOT NULL
    );
    """,
    # v2: no index of txs by sender. Nothing served it, and as a second randomly keyed
    # B-tree it cost each tx ~5 us of the chain thread and, in a big store, a dirty page.
    """
    DROP INDEX txs_by_sender;
    ALTER TABLE txs DROP COLUMN skey;
    ALTER TABLE txs DROP COLUMN nonce;
    """,
    # v3: the tx-hash index and the KV in two tiers (txindex.py, state.py): a small
    # table takes each block's randomly keyed inserts and is merged into the large one
    # in bulk. `state_now` is the KV as it stands (a NULL value in state_new: deleted).
    """
    CREATE TABLE state_new (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID;
    CREATE VIEW state_now AS
        SELECT key, value FROM state_new WHERE value IS NOT NULL
        UNION ALL
        SELECT key, value FROM state AS s
        WHERE NOT EXISTS (SELECT 1 FROM state_new AS n WHERE n.key = s.key);
    DROP INDEX txs_by_hash;
    CREATE TABLE tx_hashes (hkey INTEGER, id INTEGER, PRIMARY KEY (hkey, id)) WITHOUT ROWID;
    CREATE TABLE tx_hashes_new (hkey INTEGER, id INTEGER, PRIMARY KEY (hkey, id)) WITHOUT ROWID;
    INSERT INTO tx_hashes SELECT hkey, id FROM txs ORDER BY hkey, id;
    ALTER TABLE txs DROP COLUMN hkey;
    """,
)


def key8(b: bytes) -> int:
    """An 8-byte prefix as a signed SQLite integer. Indexes on these are half the size of
    indexes on 32-byte values (inserting is ~30% cheaper); a reader checks the full value,
    so a prefix shared by chance (or by grinding keys) costs a row read, not a wrong answer.
    """
    return int.from_bytes(b[:8], "big", signed=True)


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def schema_versions(conn: sqlite3.Connection) -> dict[str, int]:
    conn.execute("CREATE TABLE IF NOT EXISTS meta (module TEXT PRIMARY KEY, version INTEGER)")
    return {m: v for m, v in conn.execute("SELECT module, version FROM meta")}


def migrate(conn: sqlite3.Connection, module: str, scripts: Sequence[str]) -> int:
    """Apply `module`'s scripts that this file has not seen yet; return its version."""
    if not _NAME.match(module):
        raise LocalError(f"module name {module!r} is not a valid identifier", code="bad_module")
    have = schema_versions(conn).get(module, 0)
    if have > len(scripts):
        raise LocalError(
            f"the store has {module} schema v{have}, this code knows v{len(scripts)}",
            code="schema_too_new",
        )
    for version in range(have + 1, len(scripts) + 1):
        script = scripts[version - 1]
        try:
            conn.executescript(
                f"BEGIN;\n{script}\n;INSERT OR REPLACE INTO meta VALUES ('{module}', {version});"
                "\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return len(scripts)
