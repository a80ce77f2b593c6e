"""peer_net services on loopback: discovery, gossip once, requests, refusals, timeouts."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from raw_peer import RawPeer
from svc_util import FAST, TNode, arun, records, running, until

from agora.peer_net.messages import Disconnect, RequestFailed, Response
from agora.peer_net.peers import PeerLimits


def _mesh(nodes: tuple[TNode, ...]) -> bool:
    return all(n.peer_ids() == {m.id for m in nodes if m is not n} for n in nodes)


def test_nodes_find_each_other_from_one_bootstrap_node_and_gossip_reaches_each_once(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        boot = TNode(tmp_path / "n0")
        async with running(boot):
            others = [TNode(tmp_path / f"n{i}", bootstrap=(boot.addr,)) for i in (1, 2, 3)]
            async with running(*others):
                nodes = (boot, *others)
                await until(lambda: _mesh(nodes), 15, "every node connected to every other")
                # each learned the others from PEX alone: only n0 was in its config
                assert others[2].net.book.get(others[0].addr) is not None
                for origin in nodes:
                    text = f"item from {origin.key.short}"
                    await origin.actor.gossip(text)
                    rest = [n for n in nodes if n is not origin]
                    await until(lambda t=text, r=rest: all(n.actor.deliveries(t) for n in r), 5)
                await asyncio.sleep(0.5)  # time for any duplicate to show up
                for n in nodes:
                    texts = [t for _, t in n.actor.gossip_log]
                    assert sorted(texts) == sorted(
                        f"item from {m.key.short}" for m in nodes if m is not n
                    )
                    assert n.net.counters()["bans"] == 0
            book = json.loads((tmp_path / "n3" / "addrbook.json").read_text())
            assert {e["addr"] for e in book["entries"]} >= {boot.addr, others[0].addr}

    arun(main())


def test_gossip_is_relayed_once_along_a_line(tmp_path: Path) -> None:
    # a dials nobody and takes one inbound peer, so c (which learns of a from b) cannot join it
    one_in = replace(FAST, limits=PeerLimits(max_inbound=1, max_outbound=0))

    async def main() -> None:
        a = TNode(tmp_path / "a", settings=one_in)
        async with running(a):
            b = TNode(tmp_path / "b", bootstrap=(a.addr,))
            async with running(b):
                await until(lambda: a.id in b.peer_ids(), 10)
                c = TNode(tmp_path / "c", bootstrap=(b.addr,))
                async with running(c):
                    await until(lambda: b.peer_ids() == {a.id, c.id}, 10)
                    await asyncio.sleep(1.0)  # c tries a, and is refused
                    assert a.peer_ids() == {b.id} and c.peer_ids() == {b.id}
                    await c.actor.gossip("over the hill")
                    await until(lambda: a.actor.deliveries("over the hill") == 1, 5)
                    await asyncio.sleep(0.3)
                    assert [n.actor.deliveries("over the hill") for n in (a, b, c)] == [1, 1, 0]

    arun(main())


def test_request_gets_its_response_and_a_silent_peer_times_out(tmp_path: Path) -> None:
    async def main() -> None:
        a = TNode(tmp_path / "a")
        async with running(a):
            talker = TNode(tmp_path / "t", bootstrap=(a.addr,))
            mute = TNode(tmp_path / "m", bootstrap=(a.addr,), answer_requests=False)
            async with running(talker, mute):
                await until(lambda: a.peer_ids() == {talker.id, mute.id}, 10)
                r = await a.actor.request(talker.id, "hello?")
                assert isinstance(r, Response) and r.peer_id == talker.id
                assert talker.actor.decode(r.body).text == "re:hello?"
                f = await a.actor.request(mute.id, "anyone?", timeout_s=0.5)
                assert f == RequestFailed(f.req_id, "timeout")
                assert mute.actor.answered == 0 and talker.actor.answered == 1
            lone = TNode(tmp_path / "lone")
            async with running(lone):
                f = await lone.actor.request(None, "anybody?")
                assert isinstance(f, RequestFailed) and f.reason_code == "no_peer"

    arun(main())


def test_a_peer_on_another_network_is_refused_and_both_sides_log_why(tmp_path: Path) -> None:
    async def main() -> None:
        with records() as log:
            a = TNode(tmp_path / "a", network="net-a")
            async with running(a):
                b = TNode(tmp_path / "b", network="net-b", bootstrap=(a.addr,))
                async with running(b):
                    refusals = lambda: log.find("connection_error", reason="wrong_network")  # noqa: E731
                    await until(lambda: len({f["node"] for f in refusals()}) == 2)
                    assert not a.peer_ids() and not b.peer_ids()
        sides = {f["node"] for f in log.find("connection_error", reason="wrong_network")}
        assert sides == {a.key.short, b.key.short}
        assert not a.net.peers.is_banned(b.id, now=a.net.clock())

    arun(main())


def test_a_handshake_that_never_finishes_is_timed_out(tmp_path: Path) -> None:
    quick = replace(FAST, handshake_timeout_s=0.3)

    async def main() -> None:
        with records() as log:
            a = TNode(tmp_path / "a", settings=quick)
            async with running(a):
                slow = await RawPeer().open(a.addr)
                slow.write(b"\x00")  # one byte of a length, then nothing
                assert await slow.closed_by_node(5.0)
                slow.close()
                assert len(a.net.links) == 0
        hits = log.find("peer_misbehaved", reason="handshake_timeout", node=a.key.short)
        assert hits and hits[0]["ip"] == "127.0.0.1"
        assert log.find("peer_disconnected", reason="handshake_timeout")

    arun(main())


def test_an_actor_can_disconnect_a_peer_which_then_dials_back(tmp_path: Path) -> None:
    async def main() -> None:
        with records() as log:
            a = TNode(tmp_path / "a")
            async with running(a):
                b = TNode(tmp_path / "b", bootstrap=(a.addr,))
                async with running(b):
                    await until(lambda: a.peer_ids() == {b.id}, 10)
                    await until(lambda: b.id in a.actor.connected, 5)
                    await a.actor.commands.send(Disconnect(b.id, "enough"))
                    await until(lambda: b.id not in a.actor.connected, 5, "PeerDown")
                    await until(lambda: bool(log.find("peer_goodbye", reason="enough")), 5)
                    await until(lambda: a.peer_ids() == {b.id}, 10, "b dialed back")
        assert log.find("peer_disconnected", node=a.key.short, reason="enough")

    arun(main())
