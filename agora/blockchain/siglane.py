"""Verifying bursts ahead in worker processes, beside the chain thread.

A background *thread* overlaps little with a chain thread that runs Python: it
needs the GIL back after every signature and gets it once per switch interval.
A worker *process* needs no GIL of ours, so each burst goes to it as one
message (the triples packed into one bytes object) and comes back as one
message (a byte per signature); nothing on our side runs in between.

When the chain thread needs a burst's results before the worker is done, it
takes back what has not started: it reads the worker's progress from shared
memory and writes a stop index there, verifies the rest itself on all cores,
and then reads the worker's answer, which covers at least the items below the
stop index. An item near the cut may be verified twice, never zero times.
"""

from __future__ import annotations

import mmap
import socket
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from nacl._sodium import ffi, lib

from agora.logs import Log

log = Log("agora.blockchain.siglane")

# Shared words of one worker: the burst it is on, how many of its items are
# done, and the stop order: (burst, index) below which it may still go.
CURRENT, PROGRESS, STOP_BURST, STOP_AT = range(4)
START_TIMEOUT_S = 60.0

Deliver = Callable[["Job", bytes], None]  # a job's answer, as it arrives
MAX_MSG = 4096  # longer messages are verified on our side (envelopes are far shorter)


def packable(item: tuple[bytes, bytes, bytes]) -> bool:
    pk, msg, sig = item
    return len(pk) == 32 and len(sig) == 64 and len(msg) <= MAX_MSG


def pack(items: Sequence[tuple[bytes, bytes, bytes]]) -> bytes:
    """(pub_key, message, signature) triples, all `packable`, as one bytes object:
    for each, the key, the signature, the message's length (2 bytes), the message."""
    parts: list[bytes] = []
    add = parts.extend
    for pk, msg, sig in items:
        add((pk, sig, len(msg).to_bytes(2, "big"), msg))
    return b"".join(parts)


def verify_packed(data: bytes, start: int = 0, go_on: Callable[[int], bool] | None = None) -> bytes:
    """Verify what `pack` packed (from `start`); one byte (1: good) per item, as long
    as `go_on(index)` says so."""
    buf = ffi.new("unsigned char[]", MAX_MSG + 64)
    out_len = ffi.new("unsigned long long *")
    ok = bytearray()
    i, n = start, len(data)
    while i < n:
        if go_on is not None and not go_on(len(ok)):
            break
        m = int.from_bytes(data[i + 96 : i + 98], "big")
        signed = data[i + 32 : i + 96] + data[i + 98 : i + 98 + m]
        ok.append(lib.crypto_sign_open(buf, out_len, signed, len(signed), data[i : i + 32]) == 0)
        i += 98 + m
    return bytes(ok)


def _work(conn: Connection, shared: Any) -> None:
    """The worker process: verify each burst in order until told to stop."""
    conn.send_bytes(b"ready")
    while True:
        try:
            msg = conn.recv_bytes()
        except EOFError:
            return
        if not msg:
            return
        burst = int.from_bytes(msg[:8], "big")
        shared[PROGRESS] = 0
        shared[CURRENT] = burst

        def go_on(i: int, burst: int = burst) -> bool:
            if shared[STOP_BURST] == burst and i >= shared[STOP_AT]:
                return False
            shared[PROGRESS] = i
            return True

        conn.send_bytes(msg[:8] + verify_packed(msg, 8, go_on))


class Job:
    """One worker's share of a burst."""

    __slots__ = ("burst", "hashes", "payload", "results", "worker")

    def __init__(self, worker: Worker, burst: int, hashes: Sequence[bytes], payload: bytes) -> None:
        self.worker = worker
        self.burst = burst
        self.hashes = hashes
        self.payload = payload  # the message, until sent
        self.results: bytes | None = None

    def stop(self) -> int:
        """Stop the worker short of the items not started; return the cut: items below
        it are (or will be) in `wait`'s answer, the rest are the caller's to verify."""
        w = self.worker
        if self.results is not None:
            return len(self.results)
        if w.broken or w.unsend(self):
            self.results = b""
            return 0
        s = w.shared
        current = s[CURRENT]
        if current > self.burst:
            return len(self.hashes)  # done, its answer not read yet
        cut = s[PROGRESS] + 1 if current == self.burst else 0
        s[STOP_AT] = cut  # the index first, then the burst that makes it apply
        s[STOP_BURST] = self.burst
        return min(cut, len(self.hashes))

    def wait(self) -> bytes:
        """The worker's answer: one byte per item from the first, at least up to the cut
        (shorter only if the worker died)."""
        while self.results is None and not self.worker.broken:
            self.worker.receive()
        return self.results or b""


class Worker:
    """One process, one burst at a time on it (so that neither side ever blocks on a
    full pipe); the next bursts wait here, and may be taken back before they go.

    The process is `python -m agora.blockchain.siglane`, not a multiprocessing
    child: those re-run the parent's main module, which `python -m agora` does
    not guard. It gets a socket and a 32-byte shared file (the four words)."""

    def __init__(self, deliver: Deliver) -> None:
        ours, theirs = socket.socketpair()
        with tempfile.TemporaryFile() as f:
            f.truncate(8 * 4)
            self._map = mmap.mmap(f.fileno(), 8 * 4)
            fds = (theirs.fileno(), f.fileno())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agora.blockchain.siglane", *map(str, fds)],
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
            )
        theirs.close()
        self.shared = memoryview(self._map).cast("q")
        self.shared[CURRENT] = self.shared[STOP_BURST] = -1
        self.conn = Connection(ours.detach())
        self.sent: Job | None = None
        self.queue: deque[Job] = deque()
        self.broken = False
        self._deliver = deliver
        self._next = 0

    def ready(self) -> None:
        if not self.conn.poll(START_TIMEOUT_S) or self.conn.recv_bytes() != b"ready":
            self._broke("no_ready")

    def submit(self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]) -> Job:
        self._next += 1
        job = Job(self, self._next, hashes, self._next.to_bytes(8, "big") + pack(items))
        if self.broken:
            job.results = b""
            return job
        while self.sent is not None and self.conn.poll(0):
            self.receive()
        self.queue.append(job)
        self._send_next()
        return job

    def unsend(self, job: Job) -> bool:
        """Take back a job that has not gone to the process yet."""
        try:
            self.queue.remove(job)
        except ValueError:
            return False
        return True

    def _send_next(self) -> None:
        if self.sent is not None or not self.queue or self.broken:
            return
        job = self.queue.popleft()
        try:
            self.conn.send_bytes(job.payload)
        except OSError:
            self._broke("send")
            return
        job.payload = b""
        self.sent = job

    def receive(self) -> None:
        """Read the answer to the job in the process (blocking, without the GIL)."""
        job = self.sent
        if job is None:
            return
        try:
            msg = self.conn.recv_bytes()
        except (EOFError, OSError):
            self._broke("receive")
            return
        self.sent = None
        job.results = msg[8:]
        self._deliver(job, job.results)
        self._send_next()

    def _broke(self, where: str) -> None:
        if not self.broken:
            log.warning("sigverify_worker_lost", where=where)
        self.broken = True
        for job in (self.sent, *self.queue):
            if job is not None and job.results is None:
                job.results = b""
        self.sent = None
        self.queue.clear()

    def close(self) -> None:
        if not self.broken:
            try:
                self.conn.send_bytes(b"")
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.conn.close()
        self.shared.release()
        self._map.close()


class ProcessLane:
    """`workers` processes; a burst is split between them in contiguous parts."""

    def __init__(self, workers: int, deliver: Deliver) -> None:
        self.workers = [Worker(deliver) for _ in range(max(1, workers))]
        for w in self.workers:
            w.ready()

    @property
    def broken(self) -> bool:
        return all(w.broken for w in self.workers)

    def submit(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[Job]:
        if not items:
            return []
        n = len(self.workers)
        size = -(-len(items) // n)
        return [
            w.submit(hashes[k : k + size], items[k : k + size])
            for w, k in zip(self.workers, range(0, len(items), size), strict=False)
        ]

    def close(self) -> None:
        for w in self.workers:
            w.close()


if __name__ == "__main__":  # the worker process (see Worker)
    _conn = Connection(int(sys.argv[1]))
    _shared = memoryview(mmap.mmap(int(sys.argv[2]), 8 * 4)).cast("q")
    _work(_conn, _shared)
