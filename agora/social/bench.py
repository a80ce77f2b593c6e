"""`agora bench social`: build an index through the real execution path, then time queries.

Every tx is signed, decoded from its wire bytes, admitted by the mempool (signature
verification, entry checks), put in a block, validated, executed and committed with
its index rows, exactly as a node does; only consensus is replaced by in-process
validator keys (`devchain.Driver`). As in `agora bench ingest`, the next block's
signatures are verified in a worker process (`Verifier(processes=cores - 1)`,
`Mempool.prefetch`) while this one executes. Setup (handles, follows) is not timed.
The ingest figure is posts (a share of them replies, most with hashtags) per second
over the blocks of posts; likes go in blocks of their own and are timed apart.
`verify_per_s` is raw Ed25519 verification on all cores, sampled in the same run.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import random
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agora import runtime
from agora.blockchain.bench import measure_verify
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver, dev_keys
from agora.blockchain.genesis import Params, make_dev_genesis
from agora.blockchain.mempool import Burst
from agora.blockchain.sigs import Verifier
from agora.blockchain.tx import TX_DOMAIN, TxError, decode_tx
from agora.codec import encode
from agora.social.bench_load import CHAIN_ID, Workload
from agora.social.module import SocialModule
from agora.social.service import SocialReader

POST_BLOCK = 5_000
SETUP_BLOCK = 10_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p * (len(s) - 1)))]


class Ingest:
    """Blocks through mempool, proposal and commit; the next block's signatures are
    verified on the lane while the current one executes (as gossip arrives on a node)."""

    def __init__(self, chain: Chain, driver: Driver) -> None:
        self.chain, self.driver = chain, driver
        self.seconds = 0.0
        self.txs = 0

    def run(self, blocks: Iterator[list[bytes]], timed: bool) -> None:
        nxt: Burst | None = None
        raw = next(blocks, None)
        while raw is not None:
            following = next(blocks, None)  # (setup signs it here, before the clock starts)
            t0 = time.perf_counter()
            mempool = self.chain.mempool
            burst = nxt if nxt is not None else mempool.stage([decode_tx(x) for x in raw])
            nxt = None
            if following is not None:  # arrives while this block executes
                nxt = mempool.prefetch([decode_tx(x) for x in following])
            refused = [r for r in mempool.add_batch(burst) if isinstance(r, TxError)]
            if refused:
                raise AssertionError(f"bench txs refused: {refused[:3]}")
            block = self.driver.propose(self.driver.next_time())
            if len(block.txs) != len(burst.txs):
                raise AssertionError(f"block has {len(block.txs)} of {len(burst.txs)} txs")
            res = self.driver.commit(block)
            bad = [r for r in res.results if r[0] != "ok"]
            if bad:
                raise AssertionError(f"bench txs failed: {bad[:3]}")
            t1 = time.perf_counter()
            if timed:
                self.seconds += t1 - t0
                self.txs += len(burst.txs)
            raw = following


def _blocks(
    w: Workload, plans: Iterator[list[Any]], pool: ThreadPoolExecutor
) -> Iterator[list[bytes]]:
    """Signed blocks, signed on a thread ahead of their use (setup only: not timed)."""
    q: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for plan in plans:
                if stop.is_set():
                    return
                q.put(w.sign(plan, pool))
        finally:
            q.put(None)

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    try:
        while (blk := q.get()) is not None:
            yield blk
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.1)
        t.join()


def _latency(fn: Callable[[Any], Any], args: list[Any]) -> list[float]:
    out = []
    for a in args:
        t = time.perf_counter()
        fn(a)
        out.append((time.perf_counter() - t) * 1000)
    return out


def run(
    posts: int = 1_000_000,
    accounts: int = 10_000,
    follows: int = 200,
    workdir: Path | str | None = None,
    progress: Callable[[str], None] = lambda s: None,
    queries: int = 300,
    keep: Path | str | None = None,
) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    w = Workload(accounts, follows)
    vals = dev_keys("val", 1, b"agora-bench")
    params = Params(max_block_txs=SETUP_BLOCK, quota_base=10**6, quota_max=10**6)
    genesis = make_dev_genesis(
        CHAIN_ID, [bytes(k.verify_key) for k in vals], [], genesis_time=1_700_000_000_000,
        params=params, modules={"social": {"max_post_chars": 1000, "handle_fee": 0}},
    )  # fmt: skip
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, ThreadPoolExecutor(cores) as pool:
        path = Path(tmp) / "social.sqlite"
        verifier = Verifier(processes=max(1, cores - 1))
        chain = Chain.open(path, genesis, [SocialModule()], verifier=verifier)
        driver = Driver(chain, vals)
        ing = Ingest(chain, driver)
        try:
            progress(f"setup: {accounts:,} handles, {accounts * follows:,} follows")
            t0 = time.perf_counter()
            with runtime.node_gc():
                ing.run(_blocks(w, w.handles(SETUP_BLOCK), pool), timed=False)
                ing.run(_blocks(w, w.follow_plans(SETUP_BLOCK), pool), timed=False)
            progress(f"setup took {time.perf_counter() - t0:,.0f} s")
            setup_txs = accounts * (follows + 1)
            likes = Ingest(chain, driver)
            done = 0
            samples: list[float] = []
            with runtime.node_gc():  # as a node runs (it also freezes the setup's objects)
                while done < posts:
                    n = min(POST_BLOCK * 20, posts - done)
                    plans = [w.post_plan(min(POST_BLOCK, n - k)) for k in range(0, n, POST_BLOCK)]
                    blocks = [w.sign(p, pool) for p in plans]  # signed before timing
                    if not samples or done + n >= posts:
                        samples.append(_verify_sample(blocks, cores))
                    ing.run(iter(blocks), timed=True)
                    sizes = [min(POST_BLOCK, n // 2 - k) for k in range(0, n // 2, POST_BLOCK)]
                    likes.run(iter([w.sign(w.like_plan(k), pool) for k in sizes]), timed=True)
                    done += n
                    rate = ing.txs / ing.seconds if ing.seconds else 0.0
                    progress(f"posts {done:,} of {posts:,}: {rate:,.0f} posts/s so far")
            ingest = ing.txs / ing.seconds if ing.seconds else 0.0
            like_rate = likes.txs / likes.seconds if likes.seconds else 0.0
            height = chain.height
        finally:
            chain.close()
            verifier.close()
        progress("queries")
        # The workload's own bookkeeping (a million post ids, the likes given) is no part
        # of a node's heap: keep the cyclic collector from walking it while queries are
        # timed (it added pauses of 30-140 ms to single queries).
        gc.collect()
        gc.freeze()
        rng = random.Random(11)
        reader = SocialReader.open(path, genesis)
        try:
            lat = _queries(reader, w, rng, queries)
        finally:
            reader.close()
        where = Path(tmp)
        if keep is not None:  # for looking at the index afterwards
            for f in where.iterdir():
                f.rename(Path(keep) / f.name)
            where = Path(keep)
        size = sum(p.stat().st_size for p in where.iterdir() if p.name.startswith("social.sqlite"))
    verify = max(samples)
    return {
        "posts": posts,
        "ingest_posts_per_s": round(ingest),
        "verify_per_s": round(verify),
        **lat,
        "db_bytes_per_post": round(size / max(1, posts)),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "ratio": round(ingest / verify, 3) if verify else 0.0,
        "ingest_likes_per_s": round(like_rate),
        "accounts": accounts,
        "follows_each": follows,
        "likes": len(w.liked),
        "setup_txs": setup_txs,
        "blocks": height,
        "db_bytes": size,
        "verify_per_s_samples": [round(s) for s in samples],
        "cores": cores,
    }


def _verify_sample(blocks: list[list[bytes]], cores: int) -> float:
    txs = [decode_tx(x) for blk in blocks for x in blk][:20_000]
    items = [(t.envelope.sender, TX_DOMAIN + encode(t.envelope), t.signature) for t in txs]
    return measure_verify(items, cores)


def _queries(reader: SocialReader, w: Workload, rng: random.Random, n: int) -> dict[str, float]:
    viewers = [w.pubkey(rng.randrange(w.accounts)).hex() for _ in range(n)]
    feed = _latency(lambda v: reader.feed(v, None, 50), viewers)
    # Second pages too: a reader scrolls.
    cursors = [(v, reader.feed(v, None, 50).cursor) for v in viewers[: n // 3]]
    feed += _latency(lambda vc: reader.feed(vc[0], vc[1], 50), [c for c in cursors if c[1]])
    picks = [w.posts[rng.randrange(len(w.posts))].hex() for _ in range(n)]
    thread = _latency(lambda p: reader.thread(p, None, 50), picks)
    terms = []
    for _ in range(n):
        k = rng.choice((1, 1, 2))
        terms.append(" ".join(rng.choices(w.words[:5000], k=k)))
    search = _latency(lambda q: reader.search_posts(q, None, 20), terms)
    return {
        "feed_ms_p50": round(statistics.median(feed), 2),
        "feed_ms_p99": round(_pct(feed, 0.99), 2),
        "thread_ms_p50": round(statistics.median(thread), 2),
        "thread_ms_p99": round(_pct(thread, 0.99), 2),
        "search_ms_p50": round(statistics.median(search), 2),
        "search_ms_p99": round(_pct(search, 0.99), 2),
    }
