"""The consensus actor with a real blockchain actor, on one loop, peer_net played by the test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import nacl.signing

from agora import runtime
from agora.blockchain.actor import BlockchainActor
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.genesis import Genesis
from agora.blockchain.messages import ChainReply, ChainRequest
from agora.blockchain.serve import BlockServer
from agora.blockchain.votes import VoteType, sign_vote
from agora.blockchain.wire import decode_blocks_request, encode_blocks_response, encode_status
from agora.codec import encode
from agora.consensus_client.actor import ConsensusActor, ConsensusSetup, Mode
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import EvidenceMsg, VoteMsg, msg_codec
from agora.consensus_client.wal import FileWal, MemoryWal, Wal
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import (
    Broadcast,
    Inbound,
    NetCommand,
    NetEvent,
    PeerUp,
    Penalize,
    Request,
    Response,
)
from agora.spsc import Receiver, Sender, channel

T = TypeVar("T")
FAST = ConsensusParams(block_interval_ms=50, propose_ms=300, prevote_ms=200, precommit_ms=200)
PEER = b"\x05" * 32


def arun(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    return runtime.run(coro, timeout=timeout)


async def until(pred: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not pred():  # noqa: ASYNC110 - the actors change state between polls
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class Node:
    """A consensus actor and a blockchain actor joined as in a node; peer_net is the test."""

    def __init__(
        self, path: Path, genesis: Genesis, key: nacl.signing.SigningKey | None, wal: Wal
    ) -> None:
        self.chain = Chain.open(path, genesis, synchronous="NORMAL")
        self.peer_in: Sender[NetEvent]
        ev_rx: Receiver[NetEvent]
        self.peer_in, ev_rx = channel(256, NetEvent)
        cmd_tx: Sender[NetCommand]
        self.peer_out: Receiver[NetCommand]
        cmd_tx, self.peer_out = channel(4096, NetCommand)
        self.chain_net: Sender[NetEvent]
        chain_ev: Receiver[NetEvent]
        self.chain_net, chain_ev = channel(256, NetEvent)
        chain_cmd: Sender[NetCommand]
        self.chain_out: Receiver[NetCommand]
        chain_cmd, self.chain_out = channel(4096, NetCommand)
        req: tuple[Sender[ChainRequest], Receiver[ChainRequest]] = channel(256, ChainRequest)
        rep: tuple[Sender[ChainReply], Receiver[ChainReply]] = channel(256, ChainReply)
        self.blockchain = BlockchainActor(
            self.chain, path, requests=req[1], replies=rep[0], net_events=chain_ev,
            net_commands=chain_cmd,
        )  # fmt: skip
        setup = ConsensusSetup(
            genesis.chain_id, genesis.valset(), key, FAST, wal, self.chain.height,
            genesis.params.max_block_bytes, startup_grace_s=0.2,
        )  # fmt: skip
        self.consensus = ConsensusActor(
            setup, events=ev_rx, replies=rep[1], to_net=cmd_tx, to_chain=req[0]
        )
        self.sent: list[NetCommand] = []

    def drain(self) -> list[NetCommand]:
        """What the consensus actor asked peer_net to do since the last call."""
        out = []
        while len(self.peer_out):
            out.append(self.peer_out.receive_nowait())
        self.sent += out
        return out

    async def running(self, body: Callable[[Node], Awaitable[None]]) -> None:
        tasks = [asyncio.create_task(a.run()) for a in (self.consensus, self.blockchain)]
        try:
            await body(self)
        finally:
            self.consensus.stop()
            await asyncio.gather(*tasks)


def test_a_single_validator_commits_blocks_signing_through_its_wal(tmp_path: Path) -> None:
    key = dev_keys("solo", 1)[0]
    genesis = dev_genesis([key], chain_id="agora-solo")
    wal = FileWal(tmp_path / "consensus.wal")
    node = Node(tmp_path / "chain.sqlite", genesis, key, wal)

    async def body(n: Node) -> None:
        await until(lambda: n.chain.height >= 4, "four blocks")
        assert n.consensus.mode == Mode.RUNNING
        st = n.consensus.status()
        assert st["validator"] and st["consensus"]["mode"] == "running"

    arun(node.running(body))
    votes = [c for c in node.drain() + node.sent if isinstance(c, Broadcast)]
    assert {c.code for c in votes} >= {AppCode.PROPOSAL, AppCode.VOTE}
    again = FileWal(tmp_path / "consensus.wal")  # everything it sent, it logged first
    logged = {(e.height, e.round, e.kind) for e in again.entries}
    assert logged and max(h for h, _, _ in logged) >= 4
    again.close()


def test_conflicting_votes_are_evidence_and_bad_packets_cost_the_sender(tmp_path: Path) -> None:
    vals = dev_keys("ev", 4)
    genesis = dev_genesis(vals, chain_id="agora-ev")
    node = Node(tmp_path / "chain.sqlite", genesis, vals[0], MemoryWal())
    cid = genesis.chain_id
    a = sign_vote(vals[2], cid, 1, 0, VoteType.PREVOTE, b"\x01" * 32)
    b = sign_vote(vals[2], cid, 1, 0, VoteType.PREVOTE, b"\x02" * 32)
    forged = sign_vote(vals[3], cid, 1, 0, VoteType.PREVOTE, b"")
    forged = type(forged)(
        *[*(getattr(forged, f) for f in forged.__struct_fields__[:-1]), bytes(64)]
    )

    async def body(n: Node) -> None:
        await until(lambda: n.consensus.mode == Mode.RUNNING, "the core to start")
        for v in (a, b):
            await n.peer_in.send(Inbound(PEER, AppCode.VOTE, encode(VoteMsg(v))))
        await n.peer_in.send(Inbound(PEER, AppCode.VOTE, b"\xc1"))
        await n.peer_in.send(Inbound(PEER, AppCode.PROPOSAL, encode(VoteMsg(a))))
        await n.peer_in.send(Inbound(PEER, AppCode.VOTE, encode(VoteMsg(forged))))
        who = vals[2].verify_key.encode().hex()
        await until(lambda: n.consensus.status()["evidence"].get(who) == 1, "the evidence")
        await until(
            lambda: len([c for c in n.sent + n.drain() if isinstance(c, Penalize)]) >= 3,
            "penalties",
        )

    arun(node.running(body))
    penalties = {c.code: c.penalty for c in node.sent if isinstance(c, Penalize)}
    assert penalties["wrong_message"] == 100 and penalties["bad_signature"] == 100
    assert penalties.get("undecodable") == 100
    gossiped = [c for c in node.sent if isinstance(c, Broadcast) and c.code == AppCode.EVIDENCE]
    assert len(gossiped) == 1
    ev = msg_codec(1 << 20).decode(gossiped[0].body)
    assert isinstance(ev, EvidenceMsg) and {ev.evidence.vote_a, ev.evidence.vote_b} == {a, b}
    relayed = [c for c in node.sent if isinstance(c, Broadcast) and c.exclude == PEER]
    assert {c.body for c in relayed} == {encode(VoteMsg(a)), encode(VoteMsg(b))}
    assert len(node.blockchain.pool) == 1  # waiting for a block after height 1


def test_a_full_node_far_behind_syncs_from_a_peer_then_follows(tmp_path: Path) -> None:
    vals = dev_keys("fs", 4)
    genesis = dev_genesis(vals, chain_id="agora-fs")
    src_path = tmp_path / "src.sqlite"
    src = Chain.open(src_path, genesis, synchronous="NORMAL")
    driver = Driver(src, vals)
    for _ in range(30):
        driver.step()
    server = BlockServer(src, src_path)
    node = Node(tmp_path / "chain.sqlite", genesis, None, MemoryWal())

    async def peer(n: Node) -> None:
        """Answers the node's status and block requests as a peer at height 30 would."""
        await n.peer_in.send(PeerUp(PEER, "127.0.0.1:1", False))
        while n.chain.height < 30 or n.consensus.mode != Mode.RUNNING:
            for c in n.drain():
                if not isinstance(c, Request):
                    continue
                assert c.peer_id == PEER
                if c.code == AppCode.STATUS_REQUEST:
                    body = encode_status(src.height, src.last_block_id)
                else:
                    r = decode_blocks_request(c.body)
                    body = encode_blocks_response(r.start, server.read(r.start, r.count))
                await n.chain_net.send(Response(c.req_id, PEER, body))
            await asyncio.sleep(0.01)

    async def body(n: Node) -> None:
        await asyncio.wait_for(peer(n), 20)
        assert n.consensus.status()["sync"]["synced"] == 30
        assert n.consensus.status()["consensus"]["height"] == 31

    arun(node.running(body))
    assert node.chain.last_block_id == src.last_block_id
    assert not node.consensus.status()["validator"]
    server.close()
    src.close()
