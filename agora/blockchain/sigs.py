"""Ed25519 verification of tx signatures: in batches on a thread pool, each at most once.

libsodium releases the GIL, so a batch split across threads uses every core.
A bounded cache of tx hashes whose signature is known good means that a tx the
mempool verified is not verified again when its block is validated or executed.
The tx hash covers the envelope and the signature, so a hit proves both.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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
    """A thread pool for batches and a bounded cache of verified tx hashes."""

    SMALL_BATCH = 32  # below this, threads cost more than they save

    def __init__(self, threads: int | None = None, cache_size: int = 200_000) -> None:
        self.threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sigverify")
        self._cache: OrderedDict[bytes, None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the cache is shared with `submit` callbacks
        self._inflight: dict[bytes, Future[list[bool]]] = {}  # submitted, not yet done
        self._failed: OrderedDict[bytes, None] = OrderedDict()  # failed in the background
        self.verified = 0  # signatures actually checked, for tests and metrics

    def known(self, tx_hash: bytes) -> bool:
        return tx_hash in self._cache

    def verify_many(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[bool]:
        """Verify the items whose hash is not cached; cache the good ones. Items already
        submitted in the background are waited for, not verified twice."""
        ok = [True] * len(items)
        todo: list[int] = []
        waiting: list[int] = []
        futures: set[Future[list[bool]]] = set()
        cache, inflight = self._cache, self._inflight
        for i, h in enumerate(hashes):
            if h in cache:
                continue
            if h in self._failed:
                ok[i] = False
                continue
            f = inflight.get(h)
            if f is None:
                todo.append(i)
            else:
                waiting.append(i)
                futures.add(f)
        if todo:
            results = self._run([items[i] for i in todo])
            for i, good in zip(todo, results, strict=True):
                ok[i] = good
            self._remember_all([hashes[i] for i, g in zip(todo, results, strict=True) if g])
            with self._lock:
                self.verified += len(todo)
        for f in futures:
            f.result()
        for i in waiting:
            ok[i] = hashes[i] in cache  # verified in the background: cached if good
        return ok

    def _remember_all(self, hashes: Sequence[bytes]) -> None:
        with self._lock:
            cache = self._cache
            for h in hashes:
                cache[h] = None
            while len(cache) > self._cache_size:
                cache.popitem(last=False)

    def submit(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[Future[list[bool]]]:
        """Verify in the background (e.g. the next gossip burst while a block executes);
        good signatures land in the cache, so a later `verify_many` skips them."""
        n = max(1, self.threads * 2)
        size = max(1, -(-len(items) // n))
        futures = []
        with self._lock:
            for i in range(0, len(items), size):
                hs = hashes[i : i + size]
                f = self._pool.submit(self._verify_and_cache, hs, items[i : i + size])
                for h in hs:
                    self._inflight.setdefault(h, f)
                futures.append(f)
        return futures

    def _verify_and_cache(
        self, hashes: Sequence[bytes], items: Sequence[tuple[bytes, bytes, bytes]]
    ) -> list[bool]:
        results = verify_chunk(items)
        with self._lock:
            cache = self._cache
            for h, good in zip(hashes, results, strict=True):
                if good:
                    cache[h] = None
                else:
                    self._failed[h] = None
                self._inflight.pop(h, None)
            while len(self._failed) > 10_000:
                self._failed.popitem(last=False)
            while len(cache) > self._cache_size:
                cache.popitem(last=False)
            self.verified += len(items)
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
        self._pool.shutdown(wait=True, cancel_futures=True)
