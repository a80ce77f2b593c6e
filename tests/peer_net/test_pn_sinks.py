"""EventSink: a read's events go to the actor in one channel send, in order, never lost."""

from __future__ import annotations

import asyncio

from svc_util import arun

from agora.peer_net.messages import Inbound, NetEvent, PeerDown
from agora.peer_net.sinks import EventSink
from agora.spsc import Receiver, Sender, channel

P = b"p" * 32


def _events(n: int, start: int = 0) -> list[NetEvent]:
    return [Inbound(P, 33, b"%d" % i) for i in range(start, start + n)]


def _ends(capacity: int) -> tuple[Sender[NetEvent], Receiver[NetEvent]]:
    tx: Sender[NetEvent]
    rx: Receiver[NetEvent]
    tx, rx = channel(capacity, NetEvent, "sink-test")
    return tx, rx


def test_held_events_go_in_one_send_and_the_rest_overflows_in_order() -> None:
    async def main() -> None:
        tx, rx = _ends(3)
        sink = EventSink("test", tx)
        drained: list[bool] = []
        sink.on_drained = lambda: drained.append(True)
        sink.hold()
        for ev in _events(5):
            sink.send_nowait(ev)
        assert len(rx) == 0  # nothing before release
        sink.release()
        assert len(rx) == 3 and sink.congested and len(sink.overflow) == 2
        sink.send_nowait(_events(1, 5)[0])  # behind the overflow, not before it
        sink.hold()
        sink.send_nowait(_events(1, 6)[0])
        sink.release()  # still congested: appended to the overflow
        async with asyncio.TaskGroup() as tg:
            pump = tg.create_task(sink.pump())
            got: list[NetEvent] = []
            while len(got) < 7:
                got += await rx.receive_many(2)
            await asyncio.sleep(0)
            pump.cancel()
        assert got == _events(7) and not sink.congested and drained

    arun(main(), timeout=10)


def test_without_hold_each_event_goes_at_once_and_a_gone_actor_counts_drops() -> None:
    async def main() -> None:
        tx, rx = _ends(8)
        sink = EventSink("test", tx)
        sink.send_nowait(PeerDown(P, "bye"))
        assert rx.receive_nowait() == PeerDown(P, "bye")
        sink.release()  # nothing held: nothing happens
        assert len(rx) == 0
        rx.close()
        sink.hold()
        for ev in _events(4):
            sink.send_nowait(ev)
        sink.release()
        sink.send_nowait(_events(1)[0])
        assert sink.dropped == 5 and not sink.congested

    arun(main(), timeout=10)
