"""The two-tier tx-hash index (txindex.py): lookups find txs in either tier, merges move
the recent tier into the large one inside a block's transaction, and a v2 store migrates."""

import sqlite3
from pathlib import Path

import nacl.signing
import pytest
from bc_util import transfer

from agora.blockchain import txindex
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver
from agora.blockchain.genesis import Genesis
from agora.blockchain.reader import Reader
from agora.blockchain.schema import CHAIN_MIGRATIONS, key8, migrate

Keys = list[nacl.signing.SigningKey]


def _tiers(c: Chain) -> tuple[int, int]:
    q = "SELECT (SELECT count(*) FROM tx_hashes_new), (SELECT count(*) FROM tx_hashes)"
    new, old = c.store.conn.execute(q).fetchone()
    return int(new), int(old)


def _chain(
    path: Path,
    genesis: Genesis,
    vals: Keys,
    users: Keys,
    monkeypatch: pytest.MonkeyPatch,
    merge_rows: int,
) -> tuple[Chain, Driver, bytes]:
    """A chain whose hash index merges every `merge_rows` txs, its driver, a recipient."""
    monkeypatch.setattr(txindex, "MERGE_ROWS", merge_rows)
    c = Chain.open(path, genesis)
    return c, Driver(c, vals), bytes(users[5].verify_key)


def test_lookups_find_txs_in_both_tiers_across_merges(
    tmp_path: Path, genesis: Genesis, vals: Keys, users: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d, to = _chain(tmp_path / "t.db", genesis, vals, users, monkeypatch, merge_rows=5)
    reader = Reader.open(tmp_path / "t.db")
    hashes: list[bytes] = []
    seen: set[tuple[int, int]] = set()
    for n in range(1, 8):  # 2 txs a block: a merge every third block
        r = d.step([transfer(users[0], n, to), transfer(users[1], n, to)])
        hashes += r.tx_hashes
        seen.add(_tiers(c))
        for k, h in enumerate(hashes):
            info = reader.get_tx(h)
            assert info is not None and info.hash == h and info.height == k // 2 + 1
    assert seen == {(2, 0), (4, 0), (0, 6), (2, 6), (4, 6), (0, 12), (2, 12)}
    # Reopened (the pending count comes from the file), it goes on merging on time.
    reader.close()
    c.close()
    c = Chain.open(tmp_path / "t.db", genesis)
    assert c.store.tx_index.pending == 2
    Driver(c, vals).step([transfer(users[0], 8, to), transfer(users[1], 8, to)])
    assert _tiers(c) == (4, 12)
    c.close()


def test_a_rolled_back_block_leaves_the_index_as_it_was(
    tmp_path: Path, genesis: Genesis, vals: Keys, users: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, d, to = _chain(tmp_path / "r.db", genesis, vals, users, monkeypatch, merge_rows=3)
    d.step([transfer(users[0], 1, to), transfer(users[1], 1, to)])
    before = c.store.conn.execute("SELECT * FROM tx_hashes_new ORDER BY hkey").fetchall()
    kv_before = c.store.conn.execute("SELECT * FROM state_new ORDER BY key").fetchall()

    def fail(*a: object, **k: object) -> None:
        raise RuntimeError("disk gone")

    c.mempool.add(transfer(users[0], 2, to))
    block = d.propose()
    assert len(block.txs) == 1
    monkeypatch.setattr(c.store, "commit", fail)
    with pytest.raises(RuntimeError):
        d.commit(block)  # its rows merged the tier (2 + 1 >= 3), then rolled back
    monkeypatch.undo()
    assert c.store.conn.execute("SELECT * FROM tx_hashes_new ORDER BY hkey").fetchall() == before
    assert c.store.tx_index.pending == 2
    assert c.store.conn.execute("SELECT * FROM state_new ORDER BY key").fetchall() == kv_before
    assert c.store.state.tier.pending == len(kv_before)  # recounted from the file
    c.close()


def test_chain_v3_moves_the_hash_index_out_of_the_txs_table(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "v2.db", isolation_level=None)
    assert migrate(conn, "chain", CHAIN_MIGRATIONS[:2]) == 2
    rows = [((1 << 20) + i, key8(bytes([i]) * 8), b"t%d" % i, b"b", "ok", "") for i in range(3)]
    conn.executemany("INSERT INTO txs VALUES (?, ?, ?, ?, ?, ?)", rows)
    assert migrate(conn, "chain", CHAIN_MIGRATIONS) == 3
    cols = [r[1] for r in conn.execute("PRAGMA table_info(txs)")]
    assert cols == ["id", "tx", "body", "code", "message"]
    assert conn.execute("SELECT hkey, id FROM tx_hashes ORDER BY id").fetchall() == [
        (r[1], r[0]) for r in rows
    ]
    for r in rows:
        q = f"SELECT tx FROM txs WHERE id IN ({txindex.IDS_BY_HKEY})"
        assert conn.execute(q, (r[1],)).fetchall() == [(r[2],)]
    conn.close()
