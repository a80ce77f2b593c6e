"""One node per home: the lock file and what it refuses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agora.errors import LocalError
from agora.home_lock import LOCK_FILE, HomeLock

HOLD = """
import sys, time
from pathlib import Path
from agora.home_lock import HomeLock
lock = HomeLock.acquire(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    lock = HomeLock.acquire(tmp_path)
    with pytest.raises(LocalError) as e:
        HomeLock.acquire(tmp_path)
    assert e.value.code == "home_locked" and f"pid {os.getpid()}" in e.value.message
    lock.release()
    assert not lock.held
    again = HomeLock.acquire(tmp_path)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    again.release()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LocalError) as e:
            HomeLock.acquire(tmp_path)
        assert f"pid {proc.pid}" in e.value.message
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    HomeLock.acquire(tmp_path).release()  # the kernel dropped it with the process


def test_a_home_that_cannot_hold_a_lock_file_says_so(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).mkdir()
    with pytest.raises(LocalError) as e:
        HomeLock.acquire(tmp_path)
    assert e.value.code == "home_unwritable"
