"""The node's tx path in batches: a JSON-RPC batch's tx_submit calls reach the blockchain
actor as one SubmitTxs and one mempool entry; gossip is decoded once and checked once;
consensus requests go before queued admissions; a proposal is decoded once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest

from agora import runtime
from agora.blockchain import actor as actor_mod
from agora.blockchain.actor import BlockchainActor
from agora.blockchain.block import decode_block, encode_block
from agora.blockchain.chain import Chain
from agora.blockchain.core_module import Transfer
from agora.blockchain.devchain import dev_genesis, dev_keys
from agora.blockchain.messages import (
    BlockBuilt,
    BlockChecked,
    BlockCommitted,
    BuildBlockReq,
    ChainReply,
    ChainRequest,
    CheckBlockReq,
    CommitBlockReq,
    RpcSubmit,
    SubmitTx,
    SubmitTxs,
)
from agora.blockchain.reader import Reader
from agora.blockchain.tx import Tx, decode_tx, encode_tx, make_tx, tx_hash
from agora.blockchain.votes import VoteType, make_commit, sign_vote
from agora.blockchain.wire import encode_tx_batch
from agora.codec import encode
from agora.node import replace_file
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Broadcast, Inbound, NetCommand, NetEvent, Penalize
from agora.rpc.app import RpcConfig
from agora.rpc.chain_blocks import block_event
from agora.rpc.chain_methods import register_chain_methods
from agora.rpc.codes import TIMEOUT
from agora.rpc.jsonrpc import Dispatcher
from agora.rpc.messages import Answer
from agora.rpc.methods import Context, Registry, Services
from agora.rpc.server import RpcServer
from agora.spsc import Receiver, Sender, channel

T = TypeVar("T")
VALS = dev_keys("batch-val", 4)
USERS = dev_keys("batch-user", 3)
GENESIS = dev_genesis(VALS, USERS, chain_id="agora-batch")
PEER = b"\x05" * 32
SINK = b"\x09" * 32


def arun(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    return runtime.run(coro, timeout=timeout)


def tx(nonce: int, key: int = 0, chain_id: str = GENESIS.chain_id, to: bytes = SINK) -> Tx:
    body = encode(Transfer(to, 5))
    return make_tx(USERS[key], chain_id, nonce, "transfer", body)


def commit_for(block_id: bytes, height: int) -> Any:
    votes = [sign_vote(k, GENESIS.chain_id, height, 0, VoteType.PRECOMMIT, block_id) for k in VALS]
    return make_commit(votes)


class Rig:
    """The blockchain actor with the ends consensus, peer_net and rpc would hold."""

    def __init__(self, path: Path) -> None:
        self.chain = Chain.open(path, GENESIS, synchronous="NORMAL")
        self.requests: Sender[ChainRequest]
        req_rx: Receiver[ChainRequest]
        self.requests, req_rx = channel(64, ChainRequest)
        rep_tx: Sender[ChainReply]
        self.replies: Receiver[ChainReply]
        rep_tx, self.replies = channel(64, ChainReply)
        self.net_in: Sender[NetEvent]
        net_rx: Receiver[NetEvent]
        self.net_in, net_rx = channel(64, NetEvent)
        cmd_tx: Sender[NetCommand]
        self.net_out: Receiver[NetCommand]
        cmd_tx, self.net_out = channel(256, NetCommand)
        self.submit: Sender[RpcSubmit]
        sub_rx: Receiver[RpcSubmit]
        self.submit, sub_rx = channel(256, RpcSubmit)
        inbox_tx: Sender[Any]
        self.inbox: Receiver[Any]
        inbox_tx, self.inbox = channel(256, Answer)
        self.actor = BlockchainActor(
            self.chain, path, requests=req_rx, replies=rep_tx, net_events=net_rx,
            net_commands=cmd_tx, rpc_requests=sub_rx, rpc_inbox=inbox_tx,
        )  # fmt: skip


def run_rig(tmp_path: Path, body: Callable[[Rig], Awaitable[None]]) -> Rig:
    rig = Rig(tmp_path / "chain.sqlite")

    async def main() -> None:
        task = asyncio.create_task(rig.actor.run())
        try:
            await body(rig)
        finally:
            rig.requests.close()
            await task

    arun(main())
    return rig


def test_a_submit_batch_gets_one_answer_in_order_and_one_gossip(tmp_path: Path) -> None:
    good = [tx(1), tx(2), tx(3)]
    batch = [good[0], good[1], good[0], tx(9), good[2], tx(1, chain_id="other")]

    async def body(rig: Rig) -> None:
        raw = [encode_tx(t) for t in batch]
        await rig.submit.send(SubmitTxs(7, batch, raw))
        await rig.submit.send(SubmitTx(8, encode_tx(tx(1, key=1))))
        answers = {}
        for _ in range(2):
            a = await rig.inbox.receive()
            answers[a.ticket] = a
        got = answers[7].result
        assert isinstance(got, list) and len(got) == len(batch)
        assert got[0] == tx_hash(good[0]).hex() and got[1] == tx_hash(good[1]).hex()
        assert [getattr(g, "code", None) for g in got[2:4]] == ["duplicate_tx", "nonce_gap"]
        assert got[4] == tx_hash(good[2]).hex() and got[5].code == "wrong_chain"
        assert answers[8].result == tx_hash(tx(1, key=1)).hex()
        sent = await rig.net_out.receive()
        assert isinstance(sent, Broadcast) and sent.code == AppCode.TX_GOSSIP
        assert sent.body == encode_tx_batch([*(encode_tx(t) for t in good), encode_tx(tx(1, 1))])
        assert len(rig.chain.mempool) == 4

    run_rig(tmp_path, body)


def test_gossip_is_checked_once_and_only_tx_only_faults_cost_the_peer(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        gap = encode_tx_batch([encode_tx(tx(5))])  # stateful: a nonce gap is nobody's fault
        await rig.net_in.send(Inbound(PEER, AppCode.TX_GOSSIP, gap))
        ok = encode_tx_batch([encode_tx(tx(1)), encode_tx(tx(2))])
        await rig.net_in.send(Inbound(PEER, AppCode.TX_GOSSIP, ok))
        assert await rig.net_out.receive() == Broadcast(AppCode.TX_GOSSIP, ok, exclude=PEER)
        for bad in (tx(3, chain_id="other"), tx(3, to=bytes(USERS[0].verify_key))):
            body = encode_tx_batch([encode_tx(bad)])  # wrong chain; a transfer to oneself
            await rig.net_in.send(Inbound(PEER, AppCode.TX_GOSSIP, body))
            assert await rig.net_out.receive() == Penalize(PEER, "bad_tx_gossip", 100)
        assert len(rig.chain.mempool) == 2 and rig.actor.gossip.bad_batches == 2

    run_rig(tmp_path, body)


class FirstAnswerAsks:
    """The RPC inbox, which puts a build request on the consensus channel when the first
    answers go out: it arrives while more submissions are still queued."""

    def __init__(self, inner: Sender[Any], requests: Sender[ChainRequest], ask: Any) -> None:
        self.inner = inner
        self.requests = requests
        self.ask = ask

    def send_many_nowait(self, items: list[Any]) -> int:
        if self.ask is not None:
            self.requests.send_nowait(self.ask)
            self.ask = None
        return self.inner.send_many_nowait(items)

    async def send(self, item: Any) -> None:
        await self.inner.send(item)

    def close(self) -> None:
        self.inner.close()


def test_consensus_requests_go_before_queued_admissions(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "chain.sqlite")
    me = bytes(VALS[0].verify_key)
    for k in range(3):
        for start in range(1, 401, 100):  # 12 batches of 100: three slices of admission
            txs = [tx(n, key=k) for n in range(start, start + 100)]
            rig.submit.send_nowait(SubmitTxs(k * 1000 + start, txs, [encode_tx(t) for t in txs]))
    rig.actor.rpc_inbox = FirstAnswerAsks(
        rig.actor.rpc_inbox, rig.requests, BuildBlockReq(1, 0, me, None)
    )  # type: ignore[assignment]

    async def main() -> None:
        task = asyncio.create_task(rig.actor.run())
        try:
            built = await rig.replies.receive()
            assert isinstance(built, BlockBuilt)
            # only the first slice was in: the request did not wait for the rest
            assert len(decode_block(built.block).txs) == actor_mod.SLICE_TXS // 100 * 100
            tickets = {(await rig.inbox.receive()).ticket for _ in range(12)}
            assert len(tickets) == 12 and len(rig.chain.mempool) == 1200
        finally:
            rig.requests.close()
            await task

    arun(main())


def test_a_proposal_is_decoded_once_from_check_to_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = actor_mod.decode_block

    def counting(data: bytes, max_size: int) -> Any:
        calls.append(len(data))
        return real(data, max_size)

    monkeypatch.setattr(actor_mod, "decode_block", counting)
    other = Chain.open(tmp_path / "proposer.sqlite", GENESIS, synchronous="NORMAL")
    other.mempool.add(tx(1))
    block = other.build_block(GENESIS.genesis_time + 1000, bytes(VALS[1].verify_key), None)
    data = encode_block(block)
    other.close()

    async def body(rig: Rig) -> None:
        await rig.requests.send(CheckBlockReq(1, 0, block.id(), data))
        assert await rig.replies.receive() == BlockChecked(1, 0, block.id(), True)
        await rig.requests.send(CommitBlockReq(1, data, commit_for(block.id(), 1)))
        done = await rig.replies.receive()
        assert isinstance(done, BlockCommitted) and (done.height, done.txs) == (1, 1)
        # the proposer's own block is not decoded at all
        await rig.requests.send(BuildBlockReq(2, 0, bytes(VALS[0].verify_key), None))
        built = await rig.replies.receive()
        assert isinstance(built, BlockBuilt)
        b2 = decode_block(built.block)
        await rig.requests.send(CommitBlockReq(2, built.block, commit_for(b2.id(), 2)))
        assert isinstance(await rig.replies.receive(), BlockCommitted)

    run_rig(tmp_path, body)
    assert calls == [len(data)]


# --- the RPC side ---


class Session:
    transport = "http"
    peer = ("127.0.0.1", 1)


def _rpc(tmp_path: Path, inbox: Sender[Any]) -> tuple[RpcServer, Chain]:
    chain = Chain.open(tmp_path / "rpc.sqlite", GENESIS, synchronous="NORMAL")
    server = RpcServer(RpcConfig(listen=("127.0.0.1", 0)), reader=Reader(tmp_path / "rpc.sqlite"))
    register_chain_methods(server.registry, server.services.reader, GENESIS, chain_inbox=inbox)
    return server, chain


def test_tx_submit_calls_of_a_batch_are_one_question_answered_in_place(tmp_path: Path) -> None:
    to_chain: Sender[RpcSubmit]
    chain_in: Receiver[RpcSubmit]
    to_chain, chain_in = channel(64, RpcSubmit)
    server, chain = _rpc(tmp_path, to_chain)
    asked: list[RpcSubmit] = []
    a, b = tx(1), tx(2)

    def call(id: int | None, method: str, params: Any = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if id is not None:
            doc["id"] = id
        if params is not None:
            doc["params"] = params
        return doc

    batch = [
        call(1, "tx_submit", {"tx": encode_tx(a).hex()}),
        call(2, "tx_submit", {"tx": "zz"}),
        call(3, "chain_status"),
        call(None, "tx_submit", [encode_tx(b).hex()]),
        call(4, "tx_submit", {"tx": encode_tx(a).hex()}),
        call(5, "tx_submit", {"nope": 1}),
    ]

    async def chain_actor() -> None:
        for m in await chain_in.receive_many(64):
            asked.append(m)
            assert isinstance(m, SubmitTxs)
            verdicts: list[Any] = [
                r if isinstance(r, Exception) else r.hex() for r in chain.mempool.add_batch(m.txs)
            ]
            server.services.asks.answer(Answer(m.ticket, result=verdicts))

    async def go() -> list[dict[str, Any]]:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(chain_actor())
            out = server.dispatcher.dispatch(msgspec.json.encode(batch), Session())
            assert isinstance(out, Coroutine)
            reply = await out
        assert reply is not None
        got: list[dict[str, Any]] = msgspec.json.decode(reply)
        return got

    try:
        got = arun(go())
    finally:
        server.executor.shutdown()
        chain.close()
    assert len(asked) == 1 and isinstance(asked[0], SubmitTxs)
    assert [decode_tx(r) for r in asked[0].raw] == asked[0].txs == [a, b, a]
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5]
    assert got[0]["result"] == {"hash": tx_hash(a).hex()}
    assert (got[1]["error"]["code"], got[1]["error"]["data"]["code"]) == (-32602, "invalid_params")
    assert got[2]["result"]["chain_id"] == GENESIS.chain_id
    assert (got[3]["error"]["code"], got[3]["error"]["data"]["code"]) == (-32010, "duplicate_tx")
    assert got[4]["error"]["code"] == -32602


def test_a_many_handler_failing_or_timing_out_answers_each_call(tmp_path: Path) -> None:
    reg = Registry()

    class P(msgspec.Struct):
        n: int

    async def one(ctx: Context, p: P) -> int:
        return p.n

    async def broken(ctx: Context, ps: list[P]) -> list[Any]:
        raise ValueError("a bug")

    async def slow(ctx: Context, ps: list[P]) -> list[Any]:
        await asyncio.sleep(5)
        return []

    reg.add("test_broken", one, params=P, many=broken)
    reg.add("test_slow", one, params=P, many=slow, timeout=0.05)
    d = Dispatcher(reg, Services(default_timeout=2.0))

    async def go(method: str) -> list[dict[str, Any]]:
        body = [{"jsonrpc": "2.0", "id": i, "method": method, "params": [i]} for i in (1, 2)]
        out = d.dispatch(msgspec.json.encode(body), Session())
        assert isinstance(out, Coroutine)
        reply = await out
        assert reply is not None
        got: list[dict[str, Any]] = msgspec.json.decode(reply)
        return got

    broke = arun(go("test_broken"))
    assert [(r["id"], r["error"]["code"]) for r in broke] == [(1, -32603), (2, -32603)]
    late = arun(go("test_slow"))
    assert [(r["id"], r["error"]["code"]) for r in late] == [(1, TIMEOUT), (2, TIMEOUT)]
    single = d.dispatch(b'{"jsonrpc":"2.0","id":9,"method":"test_slow","params":[4]}', Session())
    assert isinstance(single, Coroutine)
    assert msgspec.json.decode(arun(single) or b"{}")["result"] == 4  # alone: the plain handler


def test_block_events_from_the_commit_hashes_match_and_status_replaces(tmp_path: Path) -> None:
    chain = Chain.open(":memory:", GENESIS)
    for n in (1, 2):
        chain.mempool.add(tx(n))
    block = chain.build_block(GENESIS.genesis_time + 1000, bytes(VALS[0].verify_key), None)
    result = chain.commit_block(block, commit_for(block.id(), 1))
    assert block_event(block, result.tx_hashes) == block_event(block)
    assert block_event(block).tx_hashes == [tx_hash(t).hex() for t in block.txs]
    chain.close()
    path = tmp_path / "status.json"
    replace_file(path, b'{"a": 1}')
    replace_file(path, b'{"a": 2}')
    assert path.read_bytes() == b'{"a": 2}' and sorted(p.name for p in tmp_path.iterdir()) == [
        "status.json"
    ]
