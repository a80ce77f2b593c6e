"""Block sync (sans-IO): ranges over several peers, checks of every commit, order, retries."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from agora.blockchain.block import decode_block
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver, dev_genesis, dev_keys
from agora.blockchain.genesis import Genesis
from agora.blockchain.serve import BlockServer
from agora.blockchain.votes import Commit, CommitSig
from agora.blockchain.wire import (
    SyncedBlock,
    decode_blocks_request,
    encode_blocks_response,
    encode_status,
)
from agora.consensus_client.sync import BlockSync, SyncParams
from agora.errors import RemoteError
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Request

VALS = dev_keys("sync-val", 4)
P1, P2, P3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
TOP = 40


@pytest.fixture(scope="module")
def genesis() -> Genesis:
    return dev_genesis(VALS, chain_id="agora-sync")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, genesis: Genesis) -> Iterator[BlockServer]:
    path = tmp_path_factory.mktemp("sync") / "chain.sqlite"
    chain = Chain.open(path, genesis, synchronous="NORMAL")
    driver = Driver(chain, VALS)
    for _ in range(TOP):
        driver.step()
    server = BlockServer(chain, path)
    yield server
    server.close()
    chain.close()


def _sync(genesis: Genesis, **kw: int) -> BlockSync:
    params = SyncParams(**{"batch": 8, "window": 64, "per_peer": 2, "max_committing": 4, **kw})
    s = BlockSync(genesis.chain_id, genesis.valset(), 0, params, random.Random(7))
    for p in (P1, P2, P3):
        s.peer_up(p)
    return s


def _answer(source: BlockServer, r: Request) -> bytes:
    req = decode_blocks_request(r.body)
    return encode_blocks_response(req.start, source.read(req.start, req.count))


def _set_heights(s: BlockSync, heights: dict[bytes, int], now: float = 0.0) -> None:
    asked = s.status_requests(now)
    assert len(asked) == len(heights)
    for r in asked:
        assert r.code == AppCode.STATUS_REQUEST
        s.on_response(r.req_id, r.peer_id, encode_status(heights[r.peer_id], b"\0" * 32))


def test_ranges_go_to_several_peers_and_blocks_commit_in_order(
    genesis: Genesis, source: BlockServer, tmp_path: Path
) -> None:
    s = _sync(genesis)
    _set_heights(s, {P1: TOP, P2: TOP, P3: 20})
    assert s.target() == TOP
    target = Chain.open(tmp_path / "t.sqlite", genesis, synchronous="NORMAL")
    rng = random.Random(3)
    pending: list[Request] = []
    for _ in range(200):  # bounded: each round answers what is in flight
        pending += s.block_requests(1.0)
        by_peer: dict[bytes, int] = {}
        for r in pending:
            by_peer[r.peer_id] = by_peer.get(r.peer_id, 0) + 1
            assert r.code == AppCode.BLOCKS_REQUEST
        assert all(n <= 2 for n in by_peer.values())  # per_peer
        rng.shuffle(pending)
        for r in pending:
            req = decode_blocks_request(r.body)
            if r.peer_id == P3:
                assert req.start + req.count - 1 <= 20  # never past what it has
            s.on_response(r.req_id, r.peer_id, _answer(source, r))
        pending = []
        batch = s.to_commit()
        assert len(batch) <= 4
        for h, ready in batch:
            assert h == target.height + 1
            target.commit_block(decode_block(ready.block), ready.commit)
            s.on_committed(h)
        if target.height == TOP:
            break
    assert target.height == TOP and s.idle() and s.synced == TOP
    assert target.last_block_id == source.chain.last_block_id
    assert target.state_root == source.chain.state_root
    assert {p for p, st in s.peers.items() if st.served} == {P1, P2, P3}
    target.close()


def _one_request(s: BlockSync) -> Request:
    reqs = s.block_requests(1.0)
    assert reqs
    return reqs[0]


def test_bad_answers_raise_and_the_range_is_asked_again(
    genesis: Genesis, source: BlockServer
) -> None:
    good = source.read(1, 8)
    cases: dict[str, bytes] = {
        "bad_blocks": encode_blocks_response(2, good),  # another start
        "bad_commit": encode_blocks_response(1, [SyncedBlock(good[0].block, good[1].commit)]),
        "undecodable": b"\xc1garbage",
    }
    c = good[0].commit
    few = Commit(c.height, c.round, c.block_id, c.signatures[:2])
    cases["commit_without_quorum"] = encode_blocks_response(1, [SyncedBlock(good[0].block, few)])
    forged = Commit(
        c.height, c.round, c.block_id, [CommitSig(x.validator, bytes(64)) for x in c.signatures]
    )
    cases["bad_commit "] = encode_blocks_response(1, [SyncedBlock(good[0].block, forged)])
    for code, body in cases.items():
        s = _sync(genesis)
        _set_heights(s, {P1: TOP, P2: TOP, P3: TOP})
        r = _one_request(s)
        with pytest.raises(RemoteError) as e:
            s.on_response(r.req_id, r.peer_id, body)
        assert e.value.code == code.strip() and e.value.penalty >= 20
        assert not s.ready
        again = s.block_requests(2.0)
        assert any(decode_blocks_request(x.body).start == 1 for x in again)


def test_failures_empty_answers_and_departures_free_ranges(
    genesis: Genesis, source: BlockServer
) -> None:
    s = _sync(genesis, window=8)
    _set_heights(s, {P1: TOP, P2: 0, P3: 0})
    r = _one_request(s)
    assert r.peer_id == P1
    s.on_failed(r.req_id)  # timed out: asked again
    r = _one_request(s)
    # an empty answer: it has less than it said, which costs it
    with pytest.raises(RemoteError) as e:
        s.on_response(r.req_id, r.peer_id, encode_blocks_response(1, []))
    assert e.value.code == "blocks_withheld"
    assert s.peers[P1].height == 0 and s.block_requests(3.0) == []
    _set_heights(s, {P1: 0, P2: TOP, P3: 0}, now=2.0)
    r = _one_request(s)
    assert r.peer_id == P2
    s.peer_down(P2)
    assert not s.asks and s.target() == 0
    s.on_response(r.req_id, r.peer_id, _answer(source, r))  # late: ignored
    assert not s.ready


def test_a_block_the_chain_refuses_names_its_sender_and_is_fetched_again(
    genesis: Genesis, source: BlockServer
) -> None:
    s = _sync(genesis)
    _set_heights(s, {P1: TOP, P2: TOP, P3: TOP})
    for r in s.block_requests(1.0):
        s.on_response(r.req_id, r.peer_id, _answer(source, r))
    batch = s.to_commit()
    assert [h for h, _ in batch] == [1, 2, 3, 4]
    s.on_committed(1)
    sender = s.on_commit_failed(2)
    assert sender == batch[1][1].peer
    assert s.on_commit_failed(3) is None  # failed only because 2 did
    assert s.queued == 1 and 2 not in s.ready
    again = s.block_requests(2.0)
    assert decode_blocks_request(again[0].body).start == 2


def test_status_is_asked_once_per_interval_and_never_twice_at_once(genesis: Genesis) -> None:
    s = _sync(genesis)
    first = s.status_requests(0.0)
    assert {r.peer_id for r in first} == {P1, P2, P3}
    assert s.status_requests(5.0) == []  # still waiting for the answers
    for r in first:
        s.on_response(r.req_id, r.peer_id, encode_status(3, b"\0" * 32))
    assert s.status_requests(0.5) == []
    assert len(s.status_requests(1.5)) == 3
    assert s.target() == 3
    q = s.status_requests(9.0)
    assert q == []  # the last ones are still pending
    r = next(iter(s.asks))
    with pytest.raises(RemoteError) as e:
        s.on_response(r, s.asks[r].peer, b"\x92\x01")  # not a status
    assert e.value.code in ("invalid_value", "undecodable")
