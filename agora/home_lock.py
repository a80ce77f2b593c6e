"""One node per home: an exclusive lock on `HOME/node.lock`, held while the node runs.

Two processes on one home would share a SQLite writer's files and, worse, a
validator's consensus WAL: the second could cut what it takes for a torn record
off the first one's log, and the two could sign different votes for one slot.
The lock is `flock`ed, so the kernel drops it when the process dies, even by
SIGKILL: a stale lock file never keeps a node from restarting. The file holds
the holder's pid, for the error message only.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from agora.errors import LocalError

LOCK_FILE = "node.lock"


class HomeLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, root: Path) -> HomeLock:
        """The lock, or LocalError `home_locked` (with the holder's pid) if it is taken."""
        path = root / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise LocalError(f"cannot open {path}: {e.strerror}", code="home_unwritable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LocalError(
                f"another node is running in {root} (pid {holder})", code="home_locked"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let the next node in; the file stays (removing it would race a new holder)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
