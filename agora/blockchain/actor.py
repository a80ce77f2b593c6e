"""The blockchain actor: the only owner of `Chain` (the one SQLite writer).

    actor = BlockchainActor(chain, db_path, requests=..., replies=..., net_events=...,
                            net_commands=..., rpc_requests=..., rpc_inbox=..., publish=...)
    await actor.run()          # on its own thread and loop (see agora.node_thread)

Three inbound channels, each drained by its own task on this actor's loop:

- from consensus (`ChainRequest`): build, check and commit blocks, evidence;
  each answered on `replies` in order;
- from peer_net (`NetEvent`): TX_GOSSIP into the mempool (`txgossip.py`),
  STATUS_REQUEST and BLOCKS_REQUEST answered from the store (`serve.py`),
  and the answers to the consensus actor's sync requests, handed on to it;
- from rpc (`SubmitTx`, `SubmitTxs`): into the mempool, answered on the RPC
  inbox (one `Answer` per message, sent together: one wake of the RPC loop).

A proposal is decoded once: the block checked (or built) here is kept and
reused when the same bytes come back to be committed.

Executing a block blocks this loop only: peer_net and consensus live on
another thread. A `LocalError` (our bug) ends the actor, and with it the node.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from agora.blockchain.block import Block, decode_block, encode_block
from agora.blockchain.chain import Chain, CommitResult
from agora.blockchain.messages import (
    BlockBuilt,
    BlockChecked,
    BlockCommitted,
    BuildBlockReq,
    ChainReply,
    ChainRequest,
    CheckBlockReq,
    CommitBlockReq,
    CommitFailed,
    RpcSubmit,
    SubmitTxs,
)
from agora.blockchain.pool import EvidencePool
from agora.blockchain.serve import BlockServer
from agora.blockchain.txgossip import LINGER_S, TxGossip
from agora.blockchain.wire import header_id
from agora.errors import RemoteError
from agora.logs import Log
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Inbound, NetCommand, NetEvent, RequestFailed, Response
from agora.rpc.messages import Answer
from agora.rpc.metrics import Metrics
from agora.spsc import BrokenChannel, ChannelClosed, EndOfChannel, Receiver, Sender

T = TypeVar("T")
Publish = Callable[[Block, CommitResult], None]
RATE_WINDOW_S = 10.0
# Txs admitted in one go (between two looks at the consensus requests): at most ~50 ms of
# work, and big enough that each verification burst still spreads over the pool's threads.
SLICE_TXS = 1024
SLICE_BYTES = 256 * 1024
_log = Log("agora.blockchain.actor")


class BlockchainActor:
    name = "blockchain"

    def __init__(
        self,
        chain: Chain,
        db_path: Path | str,
        *,
        requests: Receiver[ChainRequest],
        replies: Sender[ChainReply],
        net_events: Receiver[NetEvent],
        net_commands: Sender[NetCommand],
        rpc_requests: Receiver[RpcSubmit] | None = None,
        rpc_inbox: Sender[Any] | None = None,
        publish: Publish | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain = chain
        self.requests = requests
        self.replies = replies
        self.net_events = net_events
        self.net_commands = net_commands
        self.rpc_requests = rpc_requests
        self.rpc_inbox = rpc_inbox
        self.publish = publish
        self.metrics = metrics
        self.clock = clock
        self.pool = EvidencePool(chain)
        self.gossip = TxGossip(chain)
        self.server = BlockServer(chain, db_path)
        self._recent: deque[tuple[int, int]] = deque(maxlen=256)  # (block time ms, txs)
        self._decoded: tuple[bytes, Block] | None = None  # the last block built or checked
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._gossip_due = asyncio.Event()  # the gossip outbox has txs
        self.committed = 0
        self._status: dict[str, Any] = {}
        self._refresh_status()

    # --- running ---

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._drain(self.requests, 64, self._on_requests))
                tg.create_task(self._drain(self.net_events, 16, self._on_net))
                if self.rpc_requests is not None:
                    tg.create_task(self._drain(self.rpc_requests, 64, self._on_submits))
                    tg.create_task(self._gossip_lingered())
        finally:
            for tx in (self.replies, self.net_commands, self.rpc_inbox):
                if tx is not None:
                    tx.close()
            self.server.close()
            self.chain.close()
            _log.info("chain_closed", height=self.chain.height)

    async def _drain(
        self, rx: Receiver[T], batch: int, handle: Callable[[list[T]], Awaitable[None]]
    ) -> None:
        try:
            while True:
                await handle(await rx.receive_many(batch))
        except (EndOfChannel, ChannelClosed):
            pass
        finally:
            self._close_inputs()  # one input ending (consensus stopped) ends them all

    def _close_inputs(self) -> None:
        self._stopping = True
        self._gossip_due.set()  # its task sees _stopping and ends
        for rx in (self.requests, self.net_events, self.rpc_requests):
            if rx is not None:
                rx.close()

    def stop(self) -> None:
        """From any thread: finish the request at hand, then close the chain."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._close_inputs()
            return
        try:
            loop.call_soon_threadsafe(self._close_inputs)
        except RuntimeError:  # the loop closed meanwhile
            pass

    # --- consensus ---

    async def _on_requests(self, msgs: list[ChainRequest]) -> None:
        for msg in msgs:
            reply = self._request(msg)
            if reply is not None and not await _send(self.replies, reply):
                self._close_inputs()  # consensus has stopped: so do we
                return

    def _request(self, msg: ChainRequest) -> ChainReply | None:
        if isinstance(msg, CommitBlockReq):
            return self._commit(msg)
        if isinstance(msg, CheckBlockReq):
            return self._check(msg)
        if isinstance(msg, BuildBlockReq):
            return self._build(msg)
        self.pool.add(msg.evidence)
        return None

    def _build(self, msg: BuildBlockReq) -> BlockBuilt | None:
        chain = self.chain
        if msg.height != chain.height + 1:
            return None  # the core moved on; it ignores a stale answer anyway
        now = int(self.clock() * 1000)
        t = max(now, chain.time_ms + 1, chain.genesis.genesis_time if msg.height == 1 else 0)
        last = msg.last_commit
        if last is None and chain.height > 0:
            last = chain.seen_commit(chain.height)
        block = chain.build_block(t, msg.proposer, last, self.pool.for_block(msg.height))
        data = encode_block(block)
        self._decoded = (data, block)
        return BlockBuilt(msg.height, msg.round, data)

    def _check(self, msg: CheckBlockReq) -> BlockChecked:
        chain = self.chain
        if msg.height != chain.height + 1:
            return BlockChecked(msg.height, msg.round, msg.block_id, False, "bad_height")
        try:
            block = self._decode(msg.block)
            chain.validate_block(block, now_ms=int(self.clock() * 1000), size=len(msg.block))
        except RemoteError as e:
            _log.info("proposal_invalid", height=msg.height, round=msg.round, code=e.code)
            return BlockChecked(msg.height, msg.round, msg.block_id, False, e.code)
        return BlockChecked(msg.height, msg.round, msg.block_id, True)

    def _commit(self, msg: CommitBlockReq) -> ChainReply:
        chain = self.chain
        if msg.height <= chain.height:
            return self._committed_before(msg)
        if msg.height > chain.height + 1:
            return CommitFailed(msg.height, "bad_height", f"we are at {chain.height}")
        try:
            block = self._decode(msg.block)
            result = chain.commit_block(block, msg.commit)
        except RemoteError as e:
            _log.warning("commit_failed", height=msg.height, code=e.code, error=e.message)
            return CommitFailed(msg.height, e.code, e.message)
        self._after_commit(block, result)
        return BlockCommitted(msg.height, result.block_id, block.header.time, len(block.txs))

    def _decode(self, data: bytes) -> Block:
        last = self._decoded
        if last is not None and (last[0] is data or last[0] == data):
            return last[1]
        block = decode_block(data, self.chain.genesis.params.max_block_bytes)
        self._decoded = (data, block)
        return block

    def _committed_before(self, msg: CommitBlockReq) -> ChainReply:
        stored = self.server.block_id(msg.height)
        try:
            same = stored is not None and header_id(msg.block) == stored
        except RemoteError:
            same = False
        if not same:
            _log.error("conflicting_commit", height=msg.height)
            return CommitFailed(msg.height, "conflicting_block", "another block is stored there")
        return BlockCommitted(msg.height, stored or b"", 0, 0, again=True)

    def _after_commit(self, block: Block, result: CommitResult) -> None:
        self._decoded = None
        self.committed += 1
        self.pool.committed(block)
        self._recent.append((block.header.time, len(block.txs)))
        if self.publish is not None:
            self.publish(block, result)
        self._refresh_status(block)
        _log.info(
            "block_committed",
            height=block.height,
            id=result.block_id.hex()[:16],
            txs=len(block.txs),
            mempool=len(self.chain.mempool),
        )

    # --- peer_net ---

    async def _on_net(self, events: list[NetEvent]) -> None:
        gossip: list[Inbound] = []
        for ev in events:
            if isinstance(ev, Inbound):
                if ev.code == AppCode.TX_GOSSIP:
                    gossip.append(ev)
                elif ev.is_request:
                    for cmd in self.server.answer(ev):
                        await _send(self.net_commands, cmd)
            elif isinstance(ev, Response | RequestFailed):
                await _send(self.replies, ev)  # the consensus actor's sync asked
        while gossip:
            await self._consensus_first()
            size = n = 0
            while n < len(gossip) and (n == 0 or size + len(gossip[n].body) <= SLICE_BYTES):
                size += len(gossip[n].body)
                n += 1
            part, gossip = gossip[:n], gossip[n:]
            await _send_all(self.net_commands, self.gossip.received(part))
            self._refresh_status()

    # --- rpc ---

    async def _on_submits(self, msgs: list[RpcSubmit]) -> None:
        while msgs:
            await self._consensus_first()
            n = txs = 0
            while n < len(msgs) and (n == 0 or txs + _count(msgs[n]) <= SLICE_TXS):
                txs += _count(msgs[n])
                n += 1
            part, msgs = msgs[:n], msgs[n:]
            answers, commands = self.gossip.submitted(part)
            inbox = self.rpc_inbox
            if inbox is not None:
                out = [
                    Answer(t, error=r) if isinstance(r, RemoteError) else Answer(t, result=r)
                    for t, r in answers
                ]
                await _send_all(inbox, out)
            await _send_all(self.net_commands, commands)
            if self.gossip.pending:
                self._gossip_due.set()
            self._refresh_status()

    async def _gossip_lingered(self) -> None:
        """Gossip the outbox's txs `LINGER_S` after the first of them was accepted."""
        while not self._stopping:
            await self._gossip_due.wait()
            if self._stopping:
                return
            await asyncio.sleep(LINGER_S)
            self._gossip_due.clear()
            if not await _send_all(self.net_commands, self.gossip.flush()):
                return

    async def _consensus_first(self) -> None:
        """Let queued consensus requests (build, check, commit) go before more txs are
        admitted: a proposal waiting behind a burst of gossip stretches the block interval
        and with it every tx's finality. Bounded: that task takes its whole queue at once."""
        for _ in range(64):
            if not len(self.requests):
                return
            await asyncio.sleep(0)

    # --- status ---

    def _refresh_status(self, block: Block | None = None) -> None:
        chain = self.chain
        doc = dict(self._status)
        doc["height"] = chain.height
        doc["mempool"] = len(chain.mempool)
        doc["sigs_verified"] = chain.verifier.verified  # tx signatures checked: once per tx
        if block is not None:
            doc["last_block"] = {
                "height": block.height,
                "id": block.id().hex(),
                "time": block.header.time,
                "txs": len(block.txs),
            }
            doc["tx_per_s"], doc["block_interval_ms"] = self._rates()
            doc["evidence_committed"] = self.pool.included
        self._status = doc  # replaced whole: other threads read it without a lock
        m = self.metrics
        if m is not None:
            m.height.set(chain.height)
            m.mempool_size.set(doc["mempool"])
            if block is not None:
                m.tx_per_s.set(doc["tx_per_s"])
                m.block_interval.set(doc["block_interval_ms"] / 1000)

    def _rates(self) -> tuple[float, int]:
        recent = self._recent
        last_t = recent[-1][0]
        interval = last_t - recent[-2][0] if len(recent) > 1 else 0
        window = [(t, n) for t, n in recent if last_t - t <= RATE_WINDOW_S * 1000]
        span_ms = last_t - window[0][0] if len(window) > 1 else 0
        txs = sum(n for _, n in window[1:])
        return (round(txs * 1000 / span_ms, 2) if span_ms else 0.0), interval

    def status(self) -> dict[str, Any]:
        """This actor's part of status.json; safe from any thread."""
        return self._status


def _count(m: RpcSubmit) -> int:
    return len(m.txs) if isinstance(m, SubmitTxs) else 1


async def _send_all(tx: Sender[T], items: list[T]) -> bool:
    """Send them all, waking the receiver once if there is room; False if it has gone."""
    try:
        sent = tx.send_many_nowait(items)
    except (BrokenChannel, ChannelClosed):
        return False
    for item in items[sent:]:
        if not await _send(tx, item):
            return False
    return True


async def _send(tx: Sender[T], item: T) -> bool:
    """Send, waiting for room; False if the other end has gone (it is stopping)."""
    try:
        await tx.send(item)
    except (BrokenChannel, ChannelClosed):
        return False
    return True
