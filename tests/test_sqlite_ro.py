"""ReadOnlyPool: per-thread read connections; closing waits for the snapshots in progress
(closing a connection that another thread reads from crashed the test process once)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from agora.errors import LocalError
from agora.sqlite_ro import ReadOnlyPool


def _store(path: Path) -> None:
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("CREATE TABLE t (x INTEGER)")
    c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    c.commit()
    c.close()


def test_close_waits_for_a_snapshot_in_progress_on_another_thread(tmp_path: Path) -> None:
    _store(tmp_path / "s.sqlite")
    pool = ReadOnlyPool(tmp_path / "s.sqlite")
    inside, release = threading.Event(), threading.Event()
    got: list[int] = []

    def reader() -> None:
        with pool.snapshot() as c:
            inside.set()
            release.wait(5)
            got.append(c.execute("SELECT count(*) FROM t").fetchone()[0])

    t = threading.Thread(target=reader)
    t.start()
    assert inside.wait(5)
    closer = threading.Thread(target=pool.close)
    closer.start()
    time.sleep(0.2)
    assert closer.is_alive(), "close() returned while a snapshot was still reading"
    release.set()
    t.join(5)
    closer.join(5)
    assert got == [1000] and not closer.is_alive()
    with pytest.raises(LocalError) as e:
        with pool.snapshot():
            pass
    assert e.value.code == "reader_closed"


def test_close_gives_up_waiting_after_its_timeout(tmp_path: Path) -> None:
    _store(tmp_path / "s.sqlite")
    pool = ReadOnlyPool(tmp_path / "s.sqlite")
    with pool.snapshot() as c:  # this thread's own snapshot: nobody else can end it
        t0 = time.monotonic()
        pool.close(timeout=0.2)
        assert 0.15 < time.monotonic() - t0 < 5
        with pytest.raises(sqlite3.ProgrammingError):
            c.execute("SELECT 1")
