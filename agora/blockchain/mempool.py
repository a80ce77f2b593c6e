"""The mempool: txs that passed their entry checks, waiting for a block.

Entry checks are the block's own rules (`Registry.check`, the signature,
`account.charge`, the module's `check`) against the state after the last block
plus the sender's pending txs: a sender may have a run of consecutive nonces
pending, whose fees and quota costs must all be covered. Blocks take txs by fee,
then by arrival, each sender's in nonce order. When full, the lowest-fee tx at
the end of some sender's run is evicted (never one in the middle, which would
strand the txs behind it).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from agora.blockchain.account import NEW_ACCOUNT, Account, charge
from agora.blockchain.kinds import Registered, Registry, tx_size
from agora.blockchain.module import StateView
from agora.blockchain.sigs import Verifier
from agora.blockchain.tx import TX_DOMAIN, Tx, TxError, tx_hash_parts
from agora.codec import encode


@dataclass(slots=True)
class Burst:
    """Txs that arrived together, with their envelope bytes and hashes."""

    txs: Sequence[Tx]
    envs: Sequence[bytes]
    hashes: list[bytes]


@dataclass(slots=True)
class Entry:
    tx: Tx
    hash: bytes
    env_bytes: bytes
    size: int
    seq: int  # arrival order
    reg: Registered
    body: Any
    acct: Account = NEW_ACCOUNT  # the sender's account after this tx (phase 1)


class Mempool:
    def __init__(
        self,
        registry: Registry,
        verifier: Verifier,
        view: Callable[[], StateView],
        *,
        max_txs: int = 50_000,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._registry = registry
        self._verifier = verifier
        self._view = view  # the state after the last block, as of the next height
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.by_hash: dict[bytes, Entry] = {}
        self._runs: dict[bytes, list[Entry]] = {}  # sender -> pending, nonce order
        self._tails: list[tuple[int, int, bytes]] = []  # (fee, -seq, hash), lazy
        self._seq = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self.by_hash

    def pending_nonce(self, sender: bytes) -> int:
        """The highest nonce `sender` has waiting here (0: none), for clients that sign
        several txs before a block."""
        run = self._runs.get(sender)
        return run[-1].tx.envelope.nonce if run else 0

    # --- entry

    def add(self, tx: Tx) -> bytes:
        """Admit `tx` or raise TxError; nothing changes on error."""
        r = self.add_batch([tx])[0]
        if isinstance(r, TxError):
            raise r
        return r

    def stage(self, txs: Sequence[Tx], envs: Sequence[bytes] | None = None) -> Burst:
        """A burst with its envelope bytes and hashes, computed once for all the steps
        (`envs`: the envelopes' canonical bytes if the caller has them, e.g. from
        `decode_tx_env`)."""
        if envs is None:
            envs = [encode(t.envelope) for t in txs]
        hashes = [tx_hash_parts(e, t.signature) for t, e in zip(txs, envs, strict=True)]
        return Burst(txs, envs, hashes)

    def prefetch(self, txs: Sequence[Tx] | Burst) -> Burst:
        """Start verifying a burst's signatures on the pool and return at once, so that
        they are checked while this thread does other work (executing a block); the
        `add_batch` of the same burst then finds them verified (or takes back what has
        not started)."""
        burst = txs if isinstance(txs, Burst) else self.stage(txs)
        items = [
            (t.envelope.sender, TX_DOMAIN + e, t.signature)
            for t, e in zip(burst.txs, burst.envs, strict=True)
        ]
        self._verifier.submit(burst.hashes, items)
        return burst

    def settle(self, burst: Burst) -> None:
        """Wait until a prefetched burst's signatures are all checked (what has not
        started is taken back and checked on all cores), e.g. before measuring."""
        known = self._verifier.known
        todo = [k for k, h in enumerate(burst.hashes) if not known(h)]
        if todo:
            txs, envs = burst.txs, burst.envs
            items = [(txs[k].envelope.sender, TX_DOMAIN + envs[k], txs[k].signature) for k in todo]
            self._verifier.verify_many([burst.hashes[k] for k in todo], items)

    def add_batch(self, txs: Sequence[Tx] | Burst) -> list[bytes | TxError]:
        """Admit a burst: signatures are verified together on the thread pool."""
        burst = txs if isinstance(txs, Burst) else self.stage(txs)
        out: list[bytes | TxError] = []
        staged: list[tuple[int, Entry]] = []
        by_hash, check = self.by_hash, self._registry.check
        for i, (tx, env_bytes, h) in enumerate(
            zip(burst.txs, burst.envs, burst.hashes, strict=True)
        ):
            try:
                if h in by_hash:
                    raise TxError("duplicate_tx", "already in the mempool")
                reg, body = check(tx, env_bytes)
            except TxError as e:
                out.append(e)
                continue
            out.append(h)
            staged.append((i, Entry(tx, h, env_bytes, tx_size(env_bytes, tx), 0, reg, body)))
        ok = self._verify([e for _, e in staged])
        view = self._view()
        admit = self._admit
        for (i, entry), good in zip(staged, ok, strict=True):
            try:
                if not good:
                    raise TxError("bad_signature", "the signature does not verify")
                if entry.hash in by_hash:
                    raise TxError("duplicate_tx", "already in the mempool")
                admit(entry, view)
            except TxError as e:
                out[i] = e
        return out

    def _verify(self, entries: list[Entry]) -> list[bool]:
        # A prefetched burst is usually all verified already: build no items for it.
        known = self._verifier.known
        todo = [k for k, e in enumerate(entries) if not known(e.hash)]
        ok = [True] * len(entries)
        if todo:
            sub = [entries[k] for k in todo]
            items = [(e.tx.envelope.sender, TX_DOMAIN + e.env_bytes, e.tx.signature) for e in sub]
            res = self._verifier.verify_many([e.hash for e in sub], items)
            for k, good in zip(todo, res, strict=True):
                ok[k] = good
        return ok

    def _admit(self, entry: Entry, view: StateView) -> None:
        tx = entry.tx
        env = tx.envelope
        run = self._runs.get(env.sender)
        if run is None:
            acct = view.account(env.sender)
        else:
            acct = run[-1].acct
            if run[0].tx.envelope.nonce <= env.nonce <= acct.nonce:
                raise TxError("bad_nonce", f"nonce {env.nonce} is already pending")
        reg = entry.reg
        entry.acct = charge(
            self._registry.params, acct, env, reg.spec.quota_cost, view.height, view.time_ms
        )
        reg.module.check(tx, entry.body, view)
        if len(self.by_hash) >= self.max_txs or self.bytes + entry.size > self.max_bytes:
            self._make_room(entry)
        self._seq += 1
        entry.seq = self._seq
        self.by_hash[entry.hash] = entry
        if run is None:
            self._runs[env.sender] = [entry]
        else:
            run.append(entry)
        self.bytes += entry.size
        heapq.heappush(self._tails, (env.fee, -entry.seq, entry.hash))

    def _make_room(self, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            raise TxError("mempool_full", "the tx alone is larger than the mempool")
        fee = entry.tx.envelope.fee
        own = entry.tx.envelope.sender
        victims: dict[bytes, Entry] = {}
        count, size = len(self.by_hash) + 1, self.bytes + entry.size
        skipped: list[tuple[int, int, bytes]] = []
        while count > self.max_txs or size > self.max_bytes:
            tail = self._pop_tail()
            if tail is None or tail.tx.envelope.fee >= fee:
                if tail is not None:
                    skipped.append((tail.tx.envelope.fee, -tail.seq, tail.hash))
                for t in skipped:
                    heapq.heappush(self._tails, t)
                raise TxError("mempool_full", f"the mempool is full and fee {fee} is too low")
            if tail.tx.envelope.sender == own or tail.hash in victims:
                skipped.append((tail.tx.envelope.fee, -tail.seq, tail.hash))
                continue
            victims[tail.hash] = tail
            count, size = count - 1, size - tail.size
        for t in skipped:
            heapq.heappush(self._tails, t)
        for v in victims.values():
            self._evict_tail(v)

    def _pop_tail(self) -> Entry | None:
        while self._tails:
            _, _, h = heapq.heappop(self._tails)
            e = self.by_hash.get(h)
            if e is not None and self._runs[e.tx.envelope.sender][-1] is e:
                return e
        return None

    def _evict_tail(self, e: Entry) -> None:
        # Only called on the tail of a run (possibly a run that just shrank).
        sender = e.tx.envelope.sender
        run = self._runs[sender]
        if run[-1] is not e:
            return
        run.pop()
        del self.by_hash[e.hash]
        self.bytes -= e.size
        if run:
            # The accounts of the txs before it are still right: nothing to replay.
            prev = run[-1]
            heapq.heappush(self._tails, (prev.tx.envelope.fee, -prev.seq, prev.hash))
        else:
            del self._runs[sender]

    # --- leaving

    def ordered(self) -> Iterator[Entry]:
        """All pending txs by fee then arrival, each sender's in nonce order."""
        heap = [(-run[0].tx.envelope.fee, run[0].seq, s, 0) for s, run in self._runs.items()]
        heapq.heapify(heap)
        while heap:
            _, _, sender, i = heapq.heappop(heap)
            run = self._runs[sender]
            yield run[i]
            if i + 1 < len(run):
                nxt = run[i + 1]
                heapq.heappush(heap, (-nxt.tx.envelope.fee, nxt.seq, sender, i + 1))

    def update(self, included: Sequence[bytes]) -> None:
        """After a block: drop what it included, then recheck the rest against the new state."""
        for h in included:
            e = self.by_hash.pop(h, None)
            if e is not None:
                self.bytes -= e.size
        runs, self._runs = self._runs, {}
        self._tails = []
        view = self._view()
        params = self._registry.params
        for sender, run in runs.items():
            if not any(e.hash in self.by_hash for e in run):
                continue  # the usual case: the whole run was included
            acct = view.account(sender)
            for e in run:
                if e.hash not in self.by_hash:
                    continue  # included
                cost = e.reg.spec.quota_cost
                try:
                    after = charge(params, acct, e.tx.envelope, cost, view.height, view.time_ms)
                    e.reg.module.check(e.tx, e.body, view)
                except TxError:
                    self._drop(e)  # and the rest of the run fails on its nonce
                    continue
                e.acct = acct = after
                self._runs.setdefault(sender, []).append(e)
        for run in self._runs.values():
            t = run[-1]
            self._tails.append((t.tx.envelope.fee, -t.seq, t.hash))
        heapq.heapify(self._tails)

    def _drop(self, e: Entry) -> None:
        if self.by_hash.pop(e.hash, None) is not None:
            self.bytes -= e.size
