"""The load: funded accounts, txs signed ahead of each step, sent at a steady rate.

Each account belongs to one HTTP connection to one node, so its nonces arrive
in order (a node refuses a nonce gap, and answers a connection's requests in
order) and the load is spread over every RPC endpoint as real clients would
spread it. A connection sends a JSON-RPC batch of the txs that are due (at
most `MAX_BATCH`, at least `min_gap_s` worth) on schedule, pipelined behind
the batches not answered yet (at most `MAX_IN_FLIGHT`); a node that cannot
keep up makes the offered rate fall short, which the step reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import nacl.signing

from agora.bench_devnet.client import IO_TIMEOUT_S, HttpRpc, call_body
from agora.blockchain.core_module import Transfer
from agora.blockchain.genesis import dev_signing_key
from agora.blockchain.tx import TX_DOMAIN, Tx, encode_tx, make_tx, tx_hash
from agora.codec import encode

SEED = b"agora-bench-devnet"
MAX_BATCH = 100  # the RPC server's max_batch
MAX_IN_FLIGHT = 64  # unanswered batches per connection
FEE = 1

Item = tuple[bytes, bytes, bytes]  # (pub_key, signed message, signature)


@dataclass
class Slot:
    """One connection's share of a step: the txs as JSON-RPC call fragments."""

    node: int
    accounts: list[int]
    frags: list[bytes] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)


@dataclass
class StepLoad:
    rate: float
    duration: float
    slots: list[Slot]

    @property
    def total(self) -> int:
        return sum(len(s.frags) for s in self.slots)


class Accounts:
    def __init__(self, count: int, nodes: int, conns_per_node: int) -> None:
        self.keys = [dev_signing_key(f"load{i}", SEED) for i in range(count)]
        self.pubs = [bytes(k.verify_key) for k in self.keys]
        self.next_nonce = [1] * count
        self.nodes = nodes
        self.n_slots = nodes * conns_per_node
        # account i -> slot i % n_slots; slot s -> node s % nodes
        self.slot_accounts = [list(range(s, count, self.n_slots)) for s in range(self.n_slots)]
        self.body = encode(Transfer(bytes(dev_signing_key("sink", SEED).verify_key), 1))

    def slot_node(self, s: int) -> int:
        return s % self.nodes

    def sign_step(self, chain_id: str, rate: float, duration: float, pool: Executor) -> StepLoad:
        """All the txs of a step, signed now (outside the measured path)."""
        per_slot = max(1, round(rate * duration / self.n_slots))
        plans: list[list[tuple[int, int]]] = []
        for accts in self.slot_accounts:
            plan = []
            for j in range(per_slot):
                a = accts[j % len(accts)]
                plan.append((a, self.next_nonce[a]))
                self.next_nonce[a] += 1
            plans.append(plan)
        signed = list(pool.map(lambda p: self._sign(chain_id, p), plans))
        slots = []
        for s, (frags, hashes) in enumerate(signed):
            slots.append(Slot(self.slot_node(s), self.slot_accounts[s], frags, hashes))
        return StepLoad(rate, duration, slots)

    def _sign(self, chain_id: str, plan: list[tuple[int, int]]) -> tuple[list[bytes], list[str]]:
        frags, hashes = [], []
        for j, (a, nonce) in enumerate(plan):
            tx = make_tx(self.keys[a], chain_id, nonce, "transfer", self.body, fee=FEE)
            frags.append(call_body("tx_submit", {"tx": encode_tx(tx).hex()}, j))
            hashes.append(tx_hash(tx).hex())
        return frags, hashes

    def verify_sample(self, chain_id: str, n: int) -> list[Item]:
        """Signed envelopes for measuring raw verification (never submitted)."""
        out = []
        far = 10**9  # nonces no step reaches
        for i in range(n):
            key: nacl.signing.SigningKey = self.keys[i % len(self.keys)]
            tx: Tx = make_tx(key, chain_id, far + i, "transfer", self.body, fee=FEE)
            out.append((tx.envelope.sender, TX_DOMAIN + encode(tx.envelope), tx.signature))
        return out

    async def resync(self, conns: Sequence[HttpRpc]) -> None:
        """Each account's next nonce from its node (after refused or stranded txs)."""
        for s, accts in enumerate(self.slot_accounts):
            conn = conns[self.slot_node(s)]
            for i in range(0, len(accts), MAX_BATCH):
                part = accts[i : i + MAX_BATCH]
                calls = [call_body("account_get", {"address": self.pubs[a].hex()}, a) for a in part]
                answers = await conn.post(b"[" + b",".join(calls) + b"]")
                for a, ans in zip(part, answers, strict=True):
                    if ans.error is None and isinstance(ans.result, dict):
                        self.next_nonce[a] = int(ans.result["next_nonce"])


@dataclass
class Sent:
    """What one step's connections did."""

    sent: int = 0
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    start: float = 0.0
    end: float = 0.0
    planned_s: float = 0.0  # how long the schedule was: txs / rate
    answer_s: list[float] = field(default_factory=list)  # each batch's POST to its answers


async def drive(
    conn: HttpRpc,
    slot: Slot,
    rate: float,
    t0: float,
    hard_end: float,
    pending: dict[str, tuple[int, float]],
    step: int,
    out: Sent,
    min_gap_s: float = 0.1,
    depth: int = MAX_IN_FLIGHT,
) -> None:
    """Send `slot`'s txs at `rate` from `t0`; give up on what is left at `hard_end`.

    Batches are pipelined: one is sent when it is due, whether or not the earlier
    ones were answered (up to `depth` unanswered), as independent clients would.
    A sender that waited for each answer would offer less than the rate whenever
    the node paused admissions (a block commit), and the step would measure the
    load generator rather than the chain."""
    frags, hashes, n = slot.frags, slot.hashes, len(slot.frags)
    min_batch = max(1, min(MAX_BATCH, int(rate * min_gap_s)))
    room = asyncio.Semaphore(depth)
    sent_at: asyncio.Queue[tuple[int, int, float] | None] = asyncio.Queue()

    async def read_answers() -> None:
        async with asyncio.timeout(max(0.0, hard_end - time.monotonic()) + IO_TIMEOUT_S):
            while (batch := await sent_at.get()) is not None:
                first, k, at = batch
                answers = await conn.answers()
                room.release()
                out.answer_s.append(time.monotonic() - at)
                if len(answers) != k:
                    raise ValueError(f"{k} calls, {len(answers)} answers")
                for h, a in zip(hashes[first : first + k], answers, strict=True):
                    if a.error is None:
                        out.accepted += 1
                    else:
                        pending.pop(h, None)
                        code = a.error_code()
                        out.refused[code] = out.refused.get(code, 0) + 1

    async with asyncio.TaskGroup() as tg:  # on exit it waits for the answers too
        tg.create_task(read_answers())
        try:
            sent = 0
            while sent < n:
                now = time.monotonic()
                if now >= hard_end:
                    break
                due = min(n, int(rate * (now - t0)) + 1)
                if due - sent < min(min_batch, n - sent):
                    wake = t0 + (sent + min_batch) / rate
                    await asyncio.sleep(min(max(0.001, wake - now), hard_end - now))
                    continue
                try:
                    async with asyncio.timeout(max(0.001, hard_end - now)):
                        await room.acquire()
                except TimeoutError:
                    break  # `depth` batches unanswered until hard_end
                now = time.monotonic()
                k = min(MAX_BATCH, due - sent)
                for h in hashes[sent : sent + k]:
                    pending[h] = (step, now)  # before the answer: a block may be faster
                await conn.send(b"[" + b",".join(frags[sent : sent + k]) + b"]")
                sent_at.put_nowait((sent, k, now))
                sent += k
                out.sent += k
        finally:
            out.end = max(out.end, time.monotonic())  # the last send
            sent_at.put_nowait(None)
