"""Ed25519 verification of tx signatures: in batches on a thread pool, each at most once.

libsodium releases the GIL, so a batch split across threads uses every core.
A bounded cache of tx hashes whose signature is known good means that a tx the
mempool verified is not verified again when its block is validated or executed.
The tx hash covers the envelope and the signature, so a hit proves both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from nacl._sodium import ffi, lib

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


class Verifier:
    """A thread pool for batches, a background lane, and a bounded cache of verified
    tx hashes.

    `submit` queues a burst on the background lane (one thread fewer than the
    cores, so the chain thread keeps a core) in small chunks; `verify_many` takes
    back the chunks that have not started and verifies them on all cores, and
    waits for the rest. libsodium releases the GIL for each signature, so the
    background lane makes progress whenever the chain thread is inside SQLite or
    an fsync, and yields it the GIL otherwise.
    """

    SMALL_BATCH = 32  # below this, threads cost more than they save
    CHUNK = 64  # background chunk: small, so that little is left to wait for

    def __init__(
        self,
        threads: int | None = None,
        cache_size: int = 200_000,
        background_threads: int | None = None,
    ) -> None:
        self.threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sigverify")
        bg = background_threads or max(1, self.threads - 1)
        self._bg = ThreadPoolExecutor(bg, thread_name_prefix="sigverify-bg")
        # Two generations of plain dicts: O(1) lookups and eviction, no LRU bookkeeping.
        self._new: dict[bytes, None] = {}
        self._old: dict[bytes, None] = {}
        self._half = max(1, cache_size // 2)
        self._lock = threading.Lock()  # shared with the background lane
        # Submitted, not yet done: hash -> (its chunk's future, its index in the chunk).
        self._inflight: dict[bytes, tuple[Future[list[bool]], int]] = {}
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
        queued: dict[Future[list[bool]], list[tuple[int, int]]] = {}
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
        waiting: list[tuple[Future[list[bool]], list[tuple[int, int]]]] = []
        if queued:
            with self._lock:
                for fut, where in queued.items():
                    if fut.cancel():  # not started: do it here, on all cores
                        for i, _ in where:
                            inflight.pop(hashes[i], None)
                            todo.append(i)
                    else:
                        waiting.append((fut, where))
        if todo:
            results = self._run([items[i] for i in todo])
            good = []
            for i, r in zip(todo, results, strict=True):
                if r:
                    good.append(hashes[i])
                else:
                    ok[i] = False
            self._remember(good, len(todo))
        for fut, where in waiting:
            res = fut.result()
            for i, j in where:
                ok[i] = res[j]
        return ok

    def _remember(self, good: Sequence[bytes], checked: int) -> None:
        with self._lock:
            new = self._new
            for h in good:
                new[h] = None
                if len(new) >= self._half:
                    self._old, self._new = new, {}
                    new = self._new
            self.verified += checked

    def submit(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[Future[list[bool]]]:
        """Verify in the background (e.g. the next gossip burst while a block executes);
        good signatures land in the cache, so a later `verify_many` skips them."""
        futures = []
        size = self.CHUNK
        with self._lock:
            inflight = self._inflight
            for k in range(0, len(items), size):
                hs = hashes[k : k + size]
                f = self._bg.submit(self._verify_and_cache, hs, items[k : k + size])
                for j, h in enumerate(hs):
                    inflight.setdefault(h, (f, j))
                futures.append(f)
        return futures

    def _verify_and_cache(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[bool]:
        results = verify_chunk(items)
        with self._lock:
            new, failed, inflight = self._new, self._failed, self._inflight
            for h, good in zip(hashes, results, strict=True):
                if good:
                    new[h] = None
                else:
                    failed[h] = None
                inflight.pop(h, None)
            if len(new) >= self._half:
                self._old, self._new = new, {}
            while len(failed) > 10_000:
                del failed[next(iter(failed))]
            self.verified += len(items)
            self.verified_background += len(items)
        return results

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
        self._bg.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
