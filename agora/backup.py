"""`agora backup` and `agora restore`: a consistent copy of a node's chain store.

    info = backup(home_root, out)       # while the node runs, or not
    info = restore(file, home_root)     # into a home that has not run a chain yet

`backup` copies `data/chain.sqlite` (blocks, commits, state and every module's
index) with SQLite's online backup in one read transaction: the copy is the
store exactly as of one committed block, and the running node's writer is
never blocked (WAL mode). `restore` seeds a new home with it, so a new full
node starts at that height and block-syncs only the rest.

A restored store is trusted like the node's own disk: restore your own
backups or an operator's you trust (the blocks after it are verified as
usual). It is refused into a home that has run a chain (`chain_started`):
a validator's consensus WAL belongs with the store it signed for.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agora.config import Home, replace_durably
from agora.errors import LocalError
from agora.home_lock import HomeLock
from agora.node_home import read_genesis_file


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    height: int
    block_id: bytes
    genesis_hash: bytes
    bytes: int


def _open_ro(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise LocalError(f"no chain store at {path}", code="no_chain")
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def describe(conn: sqlite3.Connection, path: Path) -> BackupInfo:
    """What a chain store holds; LocalError `bad_backup` if it is not one."""
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()
        if ok is None or ok[0] != "ok":
            raise LocalError(f"{path} is damaged: {ok[0] if ok else '?'}", code="bad_backup")
        g = conn.execute("SELECT value FROM chain_info WHERE key = 'genesis_hash'").fetchone()
        top = conn.execute("SELECT height, id FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
    except sqlite3.DatabaseError as e:
        raise LocalError(f"{path} is not a chain store: {e}", code="bad_backup") from None
    if g is None:
        raise LocalError(f"{path} holds no chain", code="bad_backup")
    height, block_id = (0, bytes(g[0])) if top is None else (top[0], bytes(top[1]))
    return BackupInfo(path, height, block_id, bytes(g[0]), path.stat().st_size)


def _copy(src: sqlite3.Connection, dest: Path) -> None:
    """src's committed state into `dest`, durably: a temporary file, fsynced, renamed."""
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    out = sqlite3.connect(tmp, isolation_level=None)
    try:
        src.backup(out)  # all pages in one step: one read transaction, one block's state
        out.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
    finally:
        out.close()
    replace_durably(tmp, dest, sync_tmp=True)


def backup(root: Path, out: Path) -> BackupInfo:
    src = _open_ro(Home(root).chain_db)
    try:
        _copy(src, out)
    except (sqlite3.Error, OSError) as e:
        raise LocalError(f"cannot write {out}: {e}", code="backup_failed") from None
    finally:
        src.close()
    conn = _open_ro(out)
    try:
        return describe(conn, out)
    finally:
        conn.close()


def restore(file: Path, root: Path) -> BackupInfo:
    home = Home(root).require()
    lock = HomeLock.acquire(home.root)
    try:
        started = home.chain_started()
        if started is not None:
            raise LocalError(
                f"{root} has already run a chain ({started.name}); restore into a new home",
                code="chain_started",
            )
        src = _open_ro(file)
        try:
            info = describe(src, file)
            want = read_genesis_file(home.genesis).hash()
            if info.genesis_hash != want:
                raise LocalError(
                    f"{file} is of another chain (genesis {info.genesis_hash.hex()[:16]}, "
                    f"this home's is {want.hex()[:16]})",
                    code="wrong_chain",
                )
            home.make_dirs()
            _copy(src, home.chain_db)
        finally:
            src.close()
        return info
    finally:
        lock.release()
