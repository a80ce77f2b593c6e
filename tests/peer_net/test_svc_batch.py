"""Coalescing on real sockets: a burst of mixed packets arrives whole, in order, in fewer bytes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from svc_util import TNode, arun, running, until

from agora.peer_net.header import HEADER_SIZE
from agora.peer_net.messages import Response
from agora.peer_net.testactor import TestActor, encode_item
from agora.peer_net.testactor import TestItem as Item


def test_a_burst_of_direct_packets_and_requests_arrives_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        n = TNode(tmp_path / "n")
        async with running(n):
            p = TNode(tmp_path / "p", bootstrap=(n.addr,))
            async with running(p):
                await until(lambda: n.peer_ids() == {p.id} and p.peer_ids() == {n.id})
                # requests and their answers share frames with the rest
                async with asyncio.TaskGroup() as tg:
                    asks = [tg.create_task(p.actor.request(n.id, f"q{i}")) for i in range(8)]
                    for i in range(40):
                        await p.actor.send_to(n.id, f"early {i}")
                answers = [a.result() for a in asks]
                assert all(isinstance(a, Response) for a in answers)
                texts = [TestActor.decode(a.body).text for a in answers]  # type: ignore[union-attr]
                assert texts == [f"re:q{i}" for i in range(8)]
                await until(lambda: len(n.actor.direct_log) == 40)

                before = p.net.bytes_out
                sent = [(f"d{i}", bytes(i % 50)) for i in range(400)]
                for text, data in sent:  # no await in between that yields: one burst
                    await p.actor.send_to(n.id, text, data)
                await until(lambda: len(n.actor.direct_log) == 440, what="every packet")
                got = [t for pid, t in n.actor.direct_log if pid == p.id]
                assert got == [f"early {i}" for i in range(40)] + [t for t, _ in sent]
                alone = sum(HEADER_SIZE + len(encode_item(Item(t, d))) for t, d in sent)
                assert p.net.bytes_out - before < alone * 0.85  # shared frames, less overhead
                assert n.net.counters()["packets_in"] >= 448

    arun(main())
