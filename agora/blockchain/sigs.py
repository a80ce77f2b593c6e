"""Ed25519 verification of tx signatures: in batches on a thread pool, each at most once.

libsodium releases the GIL, so a batch split across threads uses every core.
A bounded cache of tx hashes whose signature is known good means that a tx the
mempool verified is not verified again when its block is validated or executed.
The tx hash covers the envelope and the signature, so a hit proves both.

Bursts can also be verified ahead, in the background (`Verifier.submit`), while
the chain thread executes and commits a block. On threads that overlap little:
a background thread needs the GIL back after every signature, and while the
chain thread runs Python it gets it only once per switch interval (5 ms), so
it makes progress only while the chain thread is inside SQLite or an fsync
(measured: about a fifth of a burst). Worker processes (`processes=N`, see
`siglane.py`) have no such limit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from nacl._sodium import ffi, lib

from agora.blockchain.siglane import Job, ProcessLane, packable

_MAX_MSG = 4096


def verify_one(pub_key: bytes, message: bytes, signature: bytes) -> bool:
    """libsodium's crypto_sign_open without PyNaCl's per-call objects (about 15% faster)."""
    if len(pub_key) != 32 or len(signature) != 64:
        return False
    signed = signature + message
    out = ffi.new("unsigned char[]", len(signed))
    out_len = ffi.new("unsigned long long *")
    return bool(lib.crypto_sign_open(out, out_len, signed, len(signed), pub_key) == 0)


def verify_chunk(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """Verify (pub_key, message, signature) triples; reuses one output buffer."""
    out = ffi.new("unsigned char[]", _MAX_MSG + 64)
    out_len = ffi.new("unsigned long long *")
    ok: list[bool] = []
    for pk, msg, sig in items:
        if len(pk) != 32 or len(sig) != 64:
            ok.append(False)
            continue
        signed = sig + msg
        if len(signed) > _MAX_MSG + 64:
            ok.append(verify_one(pk, msg, sig))
            continue
        ok.append(lib.crypto_sign_open(out, out_len, signed, len(signed), pk) == 0)
    return ok


class _ThreadJob:
    """A chunk on the background thread lane (same protocol as `siglane.Job`)."""

    __slots__ = ("fut", "hashes")

    def __init__(self, fut: Future[bytes], hashes: Sequence[bytes]) -> None:
        self.fut = fut
        self.hashes = hashes

    def stop(self) -> int:
        return 0 if self.fut.cancel() else len(self.hashes)

    def wait(self) -> bytes:
        if self.fut.cancelled():
            return b""
        try:
            return self.fut.result()
        except Exception:  # the caller verifies what is missing
            return b""


def _verify_to_bytes(items: Sequence[tuple[bytes, bytes, bytes]]) -> bytes:
    return bytes(verify_chunk(items))


class Verifier:
    """A thread pool for batches, a background lane, and a bounded cache of verified
    tx hashes.

    `submit` queues a burst on the background lane: threads (one fewer than the
    cores, so the chain thread keeps a core) in small chunks, or `processes`
    worker processes. `verify_many` takes back what has not started, verifies it
    on all cores, and waits for the rest.
    """

    SMALL_BATCH = 32  # below this, threads cost more than they save
    CHUNK = 64  # background chunk on threads: small, so that little is left to wait for

    def __init__(
        self, threads: int | None = None, cache_size: int = 200_000, processes: int = 0
    ) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.processes = processes
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sigverify")
        self._bg: ThreadPoolExecutor | None = None  # started on first use
        self._procs: ProcessLane | None = None
        # Two generations of plain dicts: O(1) lookups and eviction, no LRU bookkeeping.
        self._new: dict[bytes, None] = {}
        self._old: dict[bytes, None] = {}
        self._half = max(1, cache_size // 2)
        self._lock = threading.Lock()  # shared with the thread lane's callbacks
        # Submitted, not yet done: hash -> (its job, its index in the job).
        self._inflight: dict[bytes, tuple[_ThreadJob | Job, int]] = {}
        self._failed: dict[bytes, None] = {}  # failed in the background, bounded
        self.verified = 0  # signatures actually checked, for tests and metrics
        self.verified_background = 0  # of which on the background lane

    def known(self, tx_hash: bytes) -> bool:
        return tx_hash in self._new or tx_hash in self._old

    def verify_many(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[bool]:
        """Verify the items whose hash is not cached; cache the good ones. Items already
        submitted in the background are taken back if not started, else waited for."""
        ok = [True] * len(items)
        todo: list[int] = []
        queued: dict[_ThreadJob | Job, list[tuple[int, int]]] = {}
        new, old, failed, inflight = self._new, self._old, self._failed, self._inflight
        for i, h in enumerate(hashes):
            if h in new or h in old:
                continue
            at = inflight.get(h)
            if at is not None:
                queued.setdefault(at[0], []).append((i, at[1]))
            elif h in failed:
                ok[i] = False
            else:
                todo.append(i)
        cuts = []
        for job, where in queued.items():
            cut = job.stop()  # below the cut the lane answers; the rest is ours
            cuts.append((job, where, cut))
            todo.extend(i for i, j in where if j >= cut)
        self._here(todo, hashes, items, ok)
        retry: list[int] = []
        for job, where, cut in cuts:
            res = job.wait()
            with self._lock:
                for h in job.hashes:
                    if (at := inflight.get(h)) is not None and at[0] is job:
                        del inflight[h]
            for i, j in where:
                if j < len(res):
                    ok[i] = bool(res[j])
                elif j < cut:  # the lane died before it
                    retry.append(i)
        self._here(retry, hashes, items, ok)
        return ok

    def _here(
        self,
        todo: list[int],
        hashes: Sequence[bytes],
        items: Sequence[tuple[bytes, bytes, bytes]],
        ok: list[bool],
    ) -> None:
        if not todo:
            return
        results = self._run([items[i] for i in todo])
        good = []
        for i, r in zip(todo, results, strict=True):
            if r:
                good.append(hashes[i])
            else:
                ok[i] = False
        with self._lock:
            self._cache(good)
            self.verified += len(todo)

    def _cache(self, good: Sequence[bytes]) -> None:
        new = self._new  # the caller holds the lock
        for h in good:
            new[h] = None
        if len(new) >= self._half:
            self._old, self._new = new, {}

    def _deliver(self, job: _ThreadJob | Job, results: bytes) -> None:
        """A background job's answer (for its first len(results) items): cache the
        good, remember the bad, and forget the job."""
        hashes = job.hashes
        with self._lock:
            failed, inflight = self._failed, self._inflight
            self._cache([h for h, r in zip(hashes, results, strict=False) if r])
            for h, r in zip(hashes, results, strict=False):
                if not r:
                    failed[h] = None
            while len(failed) > 10_000:
                del failed[next(iter(failed))]
            for h in hashes:
                if (at := inflight.get(h)) is not None and at[0] is job:
                    del inflight[h]
            self.verified += len(results)
            self.verified_background += len(results)

    def submit(self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        """Verify in the background (e.g. the next gossip burst while a block executes);
        good signatures land in the cache, so a later `verify_many` skips them."""
        new, old, inflight = self._new, self._old, self._inflight
        fresh = [k for k, h in enumerate(hashes) if not (h in new or h in old or h in inflight)]
        if len(fresh) < len(hashes):
            hashes, items = [hashes[k] for k in fresh], [items[k] for k in fresh]
        procs = self._procs_lane()
        if procs is not None and all(map(packable, items)):
            jobs: list[_ThreadJob | Job] = list(procs.submit(hashes, items))
        else:
            jobs = [
                self._thread_job(hashes[k : k + self.CHUNK], items[k : k + self.CHUNK])
                for k in range(0, len(items), self.CHUNK)
            ]
        with self._lock:
            inflight = self._inflight
            for job in jobs:
                for j, h in enumerate(job.hashes):
                    inflight.setdefault(h, (job, j))

    def _thread_job(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> _ThreadJob:
        if self._bg is None:
            n = max(1, self.threads - 1)
            self._bg = ThreadPoolExecutor(n, thread_name_prefix="sigverify-bg")
        fut = self._bg.submit(_verify_to_bytes, items)
        job = _ThreadJob(fut, hashes)

        def deliver(f: Future[bytes]) -> None:
            if not f.cancelled() and f.exception() is None:
                self._deliver(job, f.result())

        fut.add_done_callback(deliver)
        return job

    def _procs_lane(self) -> ProcessLane | None:
        if self.processes <= 0:
            return None
        if self._procs is None:
            self._procs = ProcessLane(self.processes, self._deliver)
        return None if self._procs.broken else self._procs

    def warm(self) -> None:
        """Start the worker processes now (they take a while to start)."""
        self._procs_lane()

    def _run(self, items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
        if len(items) < self.SMALL_BATCH or self.threads == 1:
            return verify_chunk(items)
        n = self.threads * 4
        size = -(-len(items) // n)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        out: list[bool] = []
        for part in self._pool.map(verify_chunk, chunks):
            out.extend(part)
        return out

    def close(self) -> None:
        if self._procs is not None:
            self._procs.close()
        if self._bg is not None:
            self._bg.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
