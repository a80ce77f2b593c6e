"""The committed KV's two-generation read cache: never a stale value, hot keys kept."""

from __future__ import annotations

import random

from pytest import MonkeyPatch

from agora.blockchain import state
from agora.blockchain.schema import CHAIN_MIGRATIONS, migrate
from agora.blockchain.state import StateStore
from agora.blockchain.store import connect, store_digest
from agora.codec import encode, sha256


def store_digest_of(rows: list[tuple[bytes, bytes]]) -> bytes:
    return sha256(encode(rows))


def test_cache_answers_like_the_table_through_turnovers() -> None:
    conn = connect(":memory:")
    migrate(conn, "chain", CHAIN_MIGRATIONS)
    s = StateStore(conn, cache_size=8)
    rng = random.Random(5)
    truth: dict[bytes, bytes | None] = {}
    for block in range(200):
        keys = [bytes([rng.randrange(24)]) for _ in range(rng.randint(1, 5))]
        writes: dict[bytes, bytes | None] = {
            k: None if rng.random() < 0.2 else f"{block}".encode() for k in keys
        }
        for _ in range(rng.randint(0, 6)):  # reads between blocks, hits and misses
            k = bytes([rng.randrange(24)])
            assert s.get(k) == truth.get(k)
        conn.execute("BEGIN")
        s.write(writes)
        conn.execute("COMMIT")
        s.committed(writes)
        truth.update(writes)
    for i in range(24):
        assert s.get(bytes([i])) == truth.get(bytes([i]))
    conn.close()


def test_a_hot_key_survives_a_stream_of_new_keys() -> None:
    conn = connect(":memory:")
    migrate(conn, "chain", CHAIN_MIGRATIONS)
    s = StateStore(conn, cache_size=100)
    conn.execute("INSERT INTO state VALUES (?, ?)", (b"hot", b"1"))
    assert s.get(b"hot") == b"1"
    conn.execute("UPDATE state SET value = ? WHERE key = ?", (b"2", b"hot"))  # behind its back
    for i in range(1000):
        s.committed({f"k{i}".encode(): b"v"})
        if i % 40 == 0:
            assert s.get(b"hot") == b"1"  # still served from the cache, not the table
    s.forget()
    assert s.get(b"hot") == b"2"
    conn.close()


def test_the_two_tiers_read_like_one_table_through_merges(monkeypatch: MonkeyPatch) -> None:
    """Puts, overwrites and deletions across merges (state.MERGE_KEYS): the writer (its
    cache bypassed), the readers' view and the digest all see exactly the KV written."""
    monkeypatch.setattr(state, "MERGE_KEYS", 7)
    conn = connect(":memory:")
    migrate(conn, "chain", CHAIN_MIGRATIONS)
    s = StateStore(conn)
    rng = random.Random(9)
    truth: dict[bytes, bytes] = {}
    sizes = set()
    for block in range(120):
        writes: dict[bytes, bytes | None] = {}
        for _ in range(rng.randint(1, 4)):
            k = bytes([rng.randrange(30)])
            writes[k] = None if rng.random() < 0.3 else f"{block}".encode()
        conn.execute("BEGIN")
        s.write(state.sorted_changes(writes))
        conn.execute("COMMIT")
        s.committed(writes)
        for k, v in writes.items():
            if v is None:
                truth.pop(k, None)
            else:
                truth[k] = v
        (new,) = conn.execute("SELECT count(*) FROM state_new").fetchone()
        sizes.add(new)
        s.forget()  # read from the tables, not the cache
        for i in range(30):
            assert s.get(bytes([i])) == truth.get(bytes([i]))
        rows = conn.execute("SELECT key, value FROM state_now ORDER BY key").fetchall()
        assert rows == sorted(truth.items())
    assert max(sizes) < 7 and 0 in sizes  # merged, more than once
    (old,) = conn.execute("SELECT count(*) FROM state").fetchone()
    assert old > 0
    assert store_digest(conn) == store_digest_of(sorted(truth.items()))
    conn.close()


def test_a_rollback_recounts_the_recent_tier(monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr(state, "MERGE_KEYS", 4)
    conn = connect(":memory:")
    migrate(conn, "chain", CHAIN_MIGRATIONS)
    s = StateStore(conn)
    conn.execute("BEGIN")
    s.write([(b"a", b"1"), (b"b", b"2")])
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    s.write([(b"c", b"3"), (b"d", b"4")])  # merges
    assert s.tier.pending == 0
    conn.execute("ROLLBACK")
    s.forget()
    s.tier.reload()  # as Store.rollback does
    assert s.tier.pending == 2
    assert conn.execute("SELECT count(*) FROM state").fetchone() == (0,)
    conn.close()
