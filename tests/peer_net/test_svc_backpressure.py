"""A full actor channel stops reading from the peer feeding it; nothing is lost."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from raw_peer import RawPeer
from svc_util import FAST, NETWORK, arun, until

from agora.peer_net.handlers import AppCode, Owner
from agora.peer_net.identity import NodeKey
from agora.peer_net.messages import Inbound, NetCommand, NetEvent, PeerUp
from agora.peer_net.service import PeerNet
from agora.spsc import Receiver, Sender, channel

ITEMS = 600


def test_a_slow_actor_pauses_the_peer_and_gets_every_item_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        ev_tx: Sender[NetEvent]
        ev_rx: Receiver[NetEvent]
        ev_tx, ev_rx = channel(8, NetEvent, "tiny")
        cmd_tx: Sender[NetCommand]
        cmd_rx: Receiver[NetCommand]
        cmd_tx, cmd_rx = channel(8, NetCommand, "cmds")
        net = PeerNet(
            NodeKey.generate(), NETWORK, FAST, state_dir=tmp_path, events={Owner.TEST: ev_tx}
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(net.run([(cmd_rx, "test")]))
            await net.wait_started()
            raw = await RawPeer().handshake(net.external)
            await until(lambda: raw.id in net.conns, 5)
            bodies = [b"item %04d" % i for i in range(ITEMS)]
            raw.write(b"".join(raw.seal(AppCode.TEST_GOSSIP, b) for b in bodies))
            pc = net.conns[raw.id]
            await until(lambda: pc.read_paused, 5, "reading paused on a full channel")
            sink = net.sinks[Owner.TEST]
            assert 0 < len(sink.overflow) <= ITEMS
            got: list[bytes] = []
            async with asyncio.timeout(10):
                while len(got) < ITEMS:
                    for ev in await ev_rx.receive_many(4):  # a slow reader
                        if isinstance(ev, Inbound):
                            got.append(ev.body)
                        else:
                            assert isinstance(ev, PeerUp)
                    await asyncio.sleep(0)
            assert got == bodies  # all of them, once each, in order
            await until(lambda: not pc.read_paused, 5, "reading resumed")
            assert net.peers.is_banned(raw.id, now=net.clock()) is False
            raw.close()
            cmd_tx.close()
            net.stop()

    arun(main())
