"""Floods are rate-limited then banned; a ban outlives a restart of the banning node."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from raw_peer import RawPeer
from svc_util import TNode, arun, records, running, until

from agora.peer_net.handlers import AppCode
from agora.peer_net.identity import NodeKey
from agora.peer_net.messages import Response
from agora.peer_net.testactor import TestItem as Item
from agora.peer_net.testactor import encode_item

FLOOD = 4000  # TEST_GOSSIP: 1000/s with a burst of 2000, and 2 points a refused packet


def test_a_peer_flooding_one_code_is_rate_limited_then_banned(tmp_path: Path) -> None:
    async def main() -> None:
        with records() as log:
            n = TNode(tmp_path / "n")
            async with running(n):
                p = TNode(tmp_path / "p", bootstrap=(n.addr,))
                async with running(p):
                    await until(lambda: n.peer_ids() == {p.id}, 10)
                    flooder = await RawPeer().handshake(n.addr)
                    await until(lambda: flooder.id in n.peer_ids(), 5)
                    frames = [
                        flooder.seal(AppCode.TEST_GOSSIP, encode_item(Item(f"spam {i}")))
                        for i in range(FLOOD)
                    ]
                    flooder.write(b"".join(frames))
                    assert await flooder.closed_by_node(10.0)
                    flooder.close()
                    limited = n.net.router.limiter.limited.get(AppCode.TEST_GOSSIP, 0)
                    delivered = sum(1 for _, t in n.actor.gossip_log if t.startswith("spam"))
                    assert limited >= 50 and 1900 <= delivered < FLOOD
                    assert n.net.peers.is_banned(flooder.id, now=n.net.clock())
                    goodbye = flooder.goodbye()
                    assert goodbye is not None and goodbye.code == "rate_limited"
                    # the well-behaved peer is untouched
                    r = await n.actor.request(p.id, "ok?")
                    assert isinstance(r, Response) and n.peer_ids() == {p.id}
        assert log.find("peer_banned", reason="rate_limited", peer=flooder.id.hex())
        assert log.find("peer_disconnected", node=n.key.short, reason="rate_limited")

    arun(main())


def test_a_ban_survives_a_restart_of_the_banning_node(tmp_path: Path) -> None:
    bad_key = NodeKey.generate()
    home = tmp_path / "n"

    async def main() -> None:
        n = TNode(home)
        async with running(n):
            raw = await RawPeer(bad_key).handshake(n.addr)
            frame = bytearray(raw.seal(AppCode.TEST_GOSSIP, encode_item(Item("x"))))
            frame[-1] ^= 0xFF  # the body no longer matches its tag
            raw.write(bytes(frame))
            assert await raw.closed_by_node(5.0)
            raw.close()
            assert n.net.peers.is_banned(bad_key.node_id, now=n.net.clock())
        assert (home / "bans.json").exists()
        again = TNode(home, key=n.key)  # the same node, restarted from the same home
        async with running(again):
            assert again.net.peers.is_banned(bad_key.node_id, now=again.net.clock())
            raw = await RawPeer(bad_key).handshake(again.addr)
            assert await raw.closed_by_node(5.0)
            goodbye = raw.goodbye()
            assert goodbye is not None and goodbye.code == "peer_banned"
            raw.close()
            assert again.peer_ids() == set()
            friend = await RawPeer().handshake(again.addr)  # others are still welcome
            await until(lambda: friend.id in again.peer_ids(), 5)
            friend.close()

    arun(main())
