"""The blockchain actor on its channels: consensus requests, RPC submissions, peers' packets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from agora import runtime
from agora.blockchain.actor import BlockchainActor
from agora.blockchain.block import Block, decode_block, encode_block
from agora.blockchain.chain import Chain, CommitResult
from agora.blockchain.core_module import Transfer
from agora.blockchain.devchain import dev_genesis, dev_keys
from agora.blockchain.messages import (
    AddEvidence,
    BlockBuilt,
    BlockChecked,
    BlockCommitted,
    BuildBlockReq,
    ChainReply,
    ChainRequest,
    CheckBlockReq,
    CommitBlockReq,
    CommitFailed,
    SubmitTx,
)
from agora.blockchain.tx import encode_tx, make_tx
from agora.blockchain.votes import Commit, VoteType, make_commit, make_evidence, sign_vote
from agora.blockchain.wire import (
    blocks_codec,
    decode_status,
    encode_blocks_request,
    encode_tx_batch,
)
from agora.codec import encode
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import (
    Broadcast,
    Inbound,
    NetCommand,
    NetEvent,
    Penalize,
    RequestFailed,
    Respond,
)
from agora.rpc.messages import Answer
from agora.spsc import Receiver, Sender, channel

T = TypeVar("T")
VALS = dev_keys("actor-val", 4)
USERS = dev_keys("actor-user", 2)
GENESIS = dev_genesis(VALS, USERS, chain_id="agora-actor")
PEER = b"\x07" * 32


def arun(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    return runtime.run(coro, timeout=timeout)


def transfer(nonce: int, amount: int = 5, key: int = 0) -> bytes:
    tx = make_tx(
        USERS[key], GENESIS.chain_id, nonce, "transfer", encode(Transfer(b"\x09" * 32, amount))
    )
    return encode_tx(tx)


def commit_for(block: Block, round: int = 0) -> Commit:
    votes = [
        sign_vote(k, GENESIS.chain_id, block.height, round, VoteType.PRECOMMIT, block.id())
        for k in VALS
    ]
    return make_commit(votes)


class Rig:
    """The actor with every channel end the others would hold."""

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
        cmd_tx, self.net_out = channel(64, NetCommand)
        self.submit: Sender[SubmitTx]
        sub_rx: Receiver[SubmitTx]
        self.submit, sub_rx = channel(64, SubmitTx)
        inbox_tx: Sender[Any]
        self.inbox: Receiver[Any]
        inbox_tx, self.inbox = channel(64, Answer)
        self.published: list[tuple[Block, CommitResult]] = []
        self.actor = BlockchainActor(
            self.chain, path, requests=req_rx, replies=rep_tx, net_events=net_rx,
            net_commands=cmd_tx, rpc_requests=sub_rx, rpc_inbox=inbox_tx,
            publish=lambda b, r: self.published.append((b, r)),
        )  # fmt: skip

    async def ask(self, msg: ChainRequest) -> ChainReply:
        await self.requests.send(msg)
        return await self.replies.receive()


def run_rig(tmp_path: Path, body: Callable[[Rig], Awaitable[None]]) -> Rig:
    rig = Rig(tmp_path / "chain.sqlite")

    async def main() -> None:
        task = asyncio.create_task(rig.actor.run())
        try:
            await body(rig)
        finally:
            rig.requests.close()  # consensus ends: the actor ends and closes the chain
            await task

    arun(main())
    return rig


def test_build_check_commit_and_the_answers_to_stale_or_conflicting_requests(
    tmp_path: Path,
) -> None:
    async def body(rig: Rig) -> None:
        me = bytes(VALS[1].verify_key)
        built = await rig.ask(BuildBlockReq(1, 0, me, None))
        assert isinstance(built, BlockBuilt) and (built.height, built.round) == (1, 0)
        block = decode_block(built.block)
        assert block.header.proposer == me and block.height == 1
        ok = await rig.ask(CheckBlockReq(1, 0, block.id(), built.block))
        assert ok == BlockChecked(1, 0, block.id(), True)
        bad = await rig.ask(CheckBlockReq(1, 0, block.id(), built.block[:-3]))
        assert isinstance(bad, BlockChecked) and not bad.valid and bad.code == "undecodable"
        assert await rig.ask(CheckBlockReq(3, 0, block.id(), built.block)) == BlockChecked(
            3, 0, block.id(), False, "bad_height"
        )
        done = await rig.ask(CommitBlockReq(1, built.block, commit_for(block)))
        assert isinstance(done, BlockCommitted) and done.block_id == block.id() and not done.again
        again = await rig.ask(CommitBlockReq(1, built.block, commit_for(block)))
        assert isinstance(again, BlockCommitted) and again.again
        other = Block(
            msgspec.structs.replace(block.header, time=block.header.time + 1), [], None, []
        )
        clash = await rig.ask(CommitBlockReq(1, encode_block(other), commit_for(other)))
        assert isinstance(clash, CommitFailed) and clash.code == "conflicting_block"
        gap = await rig.ask(CommitBlockReq(5, built.block, commit_for(block)))
        assert isinstance(gap, CommitFailed) and gap.code == "bad_height"
        # a stale build request is not answered; the next one is
        await rig.requests.send(BuildBlockReq(1, 1, me, None))
        nxt = await rig.ask(BuildBlockReq(2, 0, me, None))
        assert isinstance(nxt, BlockBuilt) and nxt.height == 2
        b2 = decode_block(nxt.block)
        assert b2.last_commit is not None and b2.last_commit.block_id == block.id()
        assert rig.actor.status()["last_block"]["height"] == 1

    rig = run_rig(tmp_path, body)
    assert [b.height for b, _ in rig.published] == [1]


def test_rpc_submissions_are_answered_and_gossiped_in_batches(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        txs = [transfer(n) for n in (1, 2, 3)]
        for i, tx in enumerate([*txs, txs[0], b"\x93junk", transfer(9)]):
            await rig.submit.send(SubmitTx(100 + i, tx))
        answers = {}
        while len(answers) < 6:
            a = await rig.inbox.receive()
            answers[a.ticket] = a
        assert all(isinstance(answers[100 + i].result, str) for i in range(3))
        assert answers[103].error.code == "duplicate_tx"
        assert answers[104].error.code in ("undecodable", "invalid_value")
        assert answers[105].error.code == "nonce_gap"
        cmd = await rig.net_out.receive()
        assert isinstance(cmd, Broadcast) and cmd.code == AppCode.TX_GOSSIP
        assert cmd.body == encode_tx_batch(txs)
        assert rig.actor.status()["mempool"] == 3

    run_rig(tmp_path, body)


def test_gossip_from_peers_is_relayed_once_or_costs_the_sender(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        good = encode_tx_batch([transfer(1), transfer(2)])
        await rig.net_in.send(Inbound(PEER, AppCode.TX_GOSSIP, good))
        cmd = await rig.net_out.receive()
        assert cmd == Broadcast(AppCode.TX_GOSSIP, good, exclude=PEER)
        # nothing new in it: not relayed again
        await rig.net_in.send(Inbound(PEER, AppCode.TX_GOSSIP, good))
        await rig.net_in.send(Inbound(PEER, AppCode.TX_GOSSIP, b"\xc1"))
        cmd = await rig.net_out.receive()
        assert cmd == Penalize(PEER, "bad_tx_gossip", 100)
        forged = bytearray(transfer(3))
        forged[-40] ^= 1  # inside the signature (the body is last, 32+ bytes)
        await rig.net_in.send(Inbound(PEER, AppCode.TX_GOSSIP, encode_tx_batch([bytes(forged)])))
        cmd = await rig.net_out.receive()
        assert isinstance(cmd, Penalize) and cmd.code == "bad_tx_gossip"
        assert len(rig.chain.mempool) == 2

    run_rig(tmp_path, body)


def test_status_and_block_requests_are_answered_from_the_store(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        me = bytes(VALS[0].verify_key)
        for h in (1, 2, 3):
            built = await rig.ask(BuildBlockReq(h, 0, me, None))
            assert isinstance(built, BlockBuilt)
            block = decode_block(built.block)
            assert isinstance(
                await rig.ask(CommitBlockReq(h, built.block, commit_for(block))), BlockCommitted
            )
        await rig.net_in.send(Inbound(PEER, AppCode.STATUS_REQUEST, b"", 11, True))
        r = await rig.net_out.receive()
        assert isinstance(r, Respond) and (r.code, r.msg_id) == (AppCode.STATUS_RESPONSE, 11)
        st = decode_status(r.body)
        assert (st.height, st.block_id) == (3, rig.chain.last_block_id)
        await rig.net_in.send(
            Inbound(PEER, AppCode.BLOCKS_REQUEST, encode_blocks_request(2, 5), 12, True)
        )
        r = await rig.net_out.receive()
        assert isinstance(r, Respond) and r.code == AppCode.BLOCKS_RESPONSE
        resp = blocks_codec(1 << 22).decode(r.body)
        assert resp.start == 2 and [decode_block(b.block).height for b in resp.blocks] == [2, 3]
        assert all(b.commit.height == h for b, h in zip(resp.blocks, (2, 3), strict=True))
        await rig.net_in.send(Inbound(PEER, AppCode.BLOCKS_REQUEST, b"\x92\x00\x00", 13, True))
        assert await rig.net_out.receive() == Penalize(PEER, "bad_blocks_request", 100)
        # the answers to the consensus actor's sync requests go on to it
        await rig.net_in.send(RequestFailed(5, "timeout"))
        assert await rig.replies.receive() == RequestFailed(5, "timeout")

    run_rig(tmp_path, body)


def test_evidence_goes_into_the_next_block_once(tmp_path: Path) -> None:
    cid = GENESIS.chain_id
    v1 = sign_vote(VALS[2], cid, 1, 0, VoteType.PREVOTE, b"\x01" * 32)
    v2 = sign_vote(VALS[2], cid, 1, 0, VoteType.PREVOTE, b"\x02" * 32)
    ev = make_evidence(v1, v2)

    async def body(rig: Rig) -> None:
        me = bytes(VALS[0].verify_key)
        await rig.requests.send(AddEvidence(ev))
        first = await rig.ask(BuildBlockReq(1, 0, me, None))
        assert (
            isinstance(first, BlockBuilt) and decode_block(first.block).evidence == []
        )  # h=1: too early
        b1 = decode_block(first.block)
        await rig.ask(CommitBlockReq(1, first.block, commit_for(b1)))
        second = await rig.ask(BuildBlockReq(2, 0, me, None))
        assert isinstance(second, BlockBuilt)
        b2 = decode_block(second.block)
        assert b2.evidence == [ev]
        await rig.ask(CommitBlockReq(2, second.block, commit_for(b2)))
        await rig.requests.send(AddEvidence(ev))  # already in a block: refused
        third = await rig.ask(BuildBlockReq(3, 0, me, None))
        assert isinstance(third, BlockBuilt) and decode_block(third.block).evidence == []
        assert rig.actor.status()["evidence_committed"] == 1

    run_rig(tmp_path, body)
