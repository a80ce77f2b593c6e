"""Subscriptions resume from a cursor with no gap and no duplicate, whatever the interleaving."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
from rpc_helpers import run

from agora.errors import LocalError, RemoteError
from agora.rpc.messages import Publish, Publisher
from agora.rpc.subscriptions import Hub, Subscription, Topic
from agora.spsc import channel


class Params(msgspec.Struct):
    cursor: int | str | None = None
    only_even: bool = False


class Item(msgspec.Struct):
    height: int


class Store:
    """Items 1..n, appended by the 'chain'; read from the thread pool, slowly."""

    def __init__(self, n: int = 0, delay: float = 0.0) -> None:
        self.items = list(range(1, n + 1))
        self.delay = delay
        self.reads = 0
        self.lock = threading.Lock()

    def head(self, params: Any) -> int:
        with self.lock:
            return self.items[-1] if self.items else 0

    def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
        self.reads += 1
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            rows = [h for h in self.items if h > after]
        rows = [h for h in rows if self.matches(params, Item(h))][:limit]
        return [(h, Item(h)) for h in rows]

    def matches(self, params: Any, item: Any) -> bool:
        return not params.only_even or item.height % 2 == 0


class Collector:
    """A subscriber that keeps every notification."""

    def __init__(self) -> None:
        self.closed = False
        self.got: list[Any] = []

    def push(self, data: bytes) -> None:
        self.got.append(msgspec.json.decode(data))

    async def room(self) -> None:
        await asyncio.sleep(0)

    def heights(self) -> list[int]:
        return [m["params"]["result"]["height"] for m in self.got if "result" in m["params"]]

    def cursors(self) -> list[int]:
        return [m["params"]["result"]["cursor"] for m in self.got if "result" in m["params"]]


def topic(store: Store) -> Topic:
    return Topic("chain_subscribeBlocks", "blocks", Params, Item, store)


def test_notification_shape() -> None:
    store = Store(3)
    sub = Subscription("ab", topic(store), Params(), Collector(), 1, 10)
    sub.held = None
    c = sub.to
    assert isinstance(c, Collector)
    sub.page([(2, topic(store).render(2, Item(2)))], False)
    assert c.got == [
        {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {"subscription": "ab", "result": {"cursor": 2, "height": 2}},
        }
    ]
    assert sub.state == "live"


def test_core_drops_what_both_paths_saw() -> None:
    t = topic(Store())
    c = Collector()
    sub = Subscription("s", t, Params(), c, 2, 100)
    sub.held = None
    for h in (4, 5, 6):  # live events while the store is read
        sub.offer(h, t.render(h, Item(h)))
    assert c.got == []
    assert sub.page([(h, t.render(h, Item(h))) for h in (3, 4)], True)  # a full page: more
    assert not sub.page([(h, t.render(h, Item(h))) for h in (5,)], False)
    assert sub.state == "live"
    sub.offer(6, t.render(6, Item(6)))  # a duplicate arriving late
    sub.offer(7, t.render(7, Item(7)))
    assert c.heights() == [3, 4, 5, 6, 7]


def test_core_buffer_overflow_reads_the_store_again() -> None:
    t = topic(Store())
    c = Collector()
    sub = Subscription("s", t, Params(), c, 0, 2)
    sub.held = None
    for h in (1, 2, 3):
        sub.offer(h, t.render(h, Item(h)))
    assert sub.page([], False) is True  # it overflowed: not live yet
    assert sub.state == "backfill"
    assert sub.page([(h, t.render(h, Item(h))) for h in (1, 2, 3)], False) is False
    assert c.heights() == [1, 2, 3] and sub.state == "live"


def test_core_transitions_are_a_table() -> None:
    sub = Subscription("s", topic(Store()), Params(), Collector(), 0, 2)
    sub.close()
    assert sub.state == "closed"
    sub.resync()  # ignored once closed
    assert sub.state == "closed"
    with pytest.raises(LocalError):
        sub._move("live")


async def _scenario(seed: int, subscribers: int = 6, n: int = 150) -> list[tuple[int, list[int]]]:
    rng = random.Random(seed)
    store = Store(20, delay=0.001)
    t = topic(store)
    hub = Hub(page=7, buffer=5)
    tx, rx = channel(3, Publish)  # tiny: the publisher drops events, subscribers must notice
    pub = Publisher(tx)
    results: list[tuple[int, Collector]] = []
    async with asyncio.TaskGroup() as tg:
        hub.spawn = tg.create_task

        async def chain() -> None:
            for _ in range(n):
                with store.lock:
                    h = store.items[-1] + 1
                    store.items.append(h)  # durable first
                pub.publish("blocks", h, Item(h))  # then announced
                await asyncio.sleep(0 if rng.random() < 0.7 else 0.002)
            # A drop shows at the next event; announcing the head again reveals the last one.
            for _ in range(100):
                if pub.publish("blocks", h, Item(h)):
                    break
                await asyncio.sleep(0.01)

        async def rpc_actor() -> None:
            for _ in range(10 * n):
                try:
                    msgs = await asyncio.wait_for(rx.receive_many(2), 0.3)
                except TimeoutError:
                    return
                for m in msgs:
                    hub.publish(m)
                await asyncio.sleep(0)

        async def client(i: int) -> None:
            await asyncio.sleep(rng.random() * 0.15)
            c = Collector()
            start = rng.choice([None, 0, 5, 19, rng.randrange(0, 60)])
            with store.lock:
                head = store.items[-1]
            sid = hub.subscribe(t, Params(cursor=start), c)
            hub.release(c)
            assert isinstance(sid, str)
            results.append((-head if start is None else start, c))

        tg.create_task(chain())
        tg.create_task(rpc_actor())
        for i in range(subscribers):
            tg.create_task(client(i))
    assert pub.dropped > 0  # the test did exercise lost events
    return [(base, c.heights()) for base, c in results]


@pytest.mark.parametrize("seed", range(6))
def test_resume_has_no_gap_and_no_duplicate_under_concurrent_events(seed: int) -> None:
    for start, heights in run(_scenario(seed)):
        if start == -170 and not heights:
            continue  # it subscribed "from now" after the last block
        assert heights, "received nothing"
        assert heights == list(range(heights[0], heights[-1] + 1)), "gap or duplicate"
        if start >= 0:  # from a cursor: exactly what follows it
            assert heights[0] == start + 1
        else:  # from "now" (the head was -start): nothing after it is missing
            assert heights[0] <= -start + 1
        assert heights[-1] == 170


def test_filtered_topic_and_cursor_strings() -> None:
    async def scenario() -> list[int]:
        store = Store(10)
        hub = Hub(page=3)
        c = Collector()
        async with asyncio.TaskGroup() as tg:
            hub.spawn = tg.create_task
            hub.subscribe(topic(store), Params(cursor="3", only_even=True), c)
            hub.release(c)
        for h in (11, 12):
            store.items.append(h)
            hub.publish(Publish("blocks", h - 10, h, Item(h)))
        return c.heights()

    assert run(scenario()) == [4, 6, 8, 10, 12]


def test_bad_cursor_and_limits() -> None:
    hub = Hub(per_session=1)
    hub.spawn = lambda coro: coro.close()
    c = Collector()
    for bad in (-1, "x", True, 2**64, "1" * 30, 1.5):
        with pytest.raises(RemoteError) as info:
            hub.subscribe(topic(Store()), Params(cursor=bad), c)  # type: ignore[arg-type]
        assert info.value.code == "bad_cursor"
    sid = hub.subscribe(topic(Store()), Params(cursor=1), c)
    with pytest.raises(RemoteError) as info:
        hub.subscribe(topic(Store()), Params(cursor=1), c)
    assert info.value.code == "too_many_subscriptions"
    assert hub.unsubscribe(sid, Collector()) is False  # only its own connection may
    assert hub.unsubscribe(sid, c) is True and len(hub) == 0


def test_a_failing_source_ends_only_that_subscription() -> None:
    class Broken(Store):
        def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
            raise RemoteError("pruned", code="not_found")

    async def scenario() -> Collector:
        hub = Hub()
        c = Collector()
        async with asyncio.TaskGroup() as tg:
            hub.spawn = tg.create_task
            hub.subscribe(topic(Broken(5)), Params(cursor=1), c)
            hub.release(c)
        assert len(hub) == 0
        return c

    c = run(scenario())
    assert len(c.got) == 1
    err = c.got[0]["params"]["error"]
    assert err["code"] == -32004 and err["data"]["code"] == "not_found"


def test_core_a_loss_during_a_read_forces_another_read() -> None:
    t = topic(Store())
    c = Collector()
    sub = Subscription("s", t, Params(), c, 0, 100)
    sub.held = None
    # A read is in flight; item 1 is stored, its event dropped; item 2's event shows the gap.
    sub.resync()
    sub.offer(2, t.render(2, Item(2)))
    assert sub.page([], False) is True  # the read began before item 1: read again
    assert sub.page([(1, t.render(1, Item(1))), (2, t.render(2, Item(2)))], False) is False
    assert c.heights() == [1, 2]
