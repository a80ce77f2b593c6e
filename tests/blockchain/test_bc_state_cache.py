"""The committed KV's two-generation read cache: never a stale value, hot keys kept."""

from __future__ import annotations

import random

from agora.blockchain.schema import CHAIN_MIGRATIONS, migrate
from agora.blockchain.state import StateStore
from agora.blockchain.store import connect


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
