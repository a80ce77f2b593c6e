"""The spsc channel, run with producer and consumer on one loop and on two threads."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rt_util import Placement, arun, until

from agora.errors import LocalError
from agora.spsc import (
    BrokenChannel,
    ChannelClosed,
    EndOfChannel,
    Receiver,
    Sender,
    WouldBlock,
    channel,
)


@pytest.fixture(params=["same_loop", "two_threads"])
def placement(request: pytest.FixtureRequest) -> Placement:
    return Placement(request.param)


def test_order_and_end_of_channel(placement: Placement) -> None:
    tx, rx = channel(8, int, "order")

    async def produce() -> None:
        for i in range(2000):
            await tx.send(i)
        tx.close()

    async def consume() -> list[int]:
        got = [x async for x in rx]
        for call in (rx.receive_nowait, lambda: rx.receive_many_nowait(4)):
            with pytest.raises(EndOfChannel):
                call()
        with pytest.raises(EndOfChannel):
            await rx.receive()
        return got

    assert placement.run(produce, consume) == list(range(2000))


def test_send_blocks_while_full_and_resumes(placement: Placement) -> None:
    tx, rx = channel(4, int, "full")
    filled, sent = threading.Event(), threading.Event()

    async def produce() -> None:
        for i in range(4):
            tx.send_nowait(i)
        with pytest.raises(WouldBlock):
            tx.send_nowait(99)
        assert len(tx) == 4
        filled.set()
        await tx.send(4)
        sent.set()
        tx.close()

    async def consume() -> list[int]:
        await until(filled.is_set)
        assert len(rx) == 4
        await asyncio.sleep(0.05)
        assert not sent.is_set()  # still full: the send must be waiting
        first = await rx.receive()
        await until(sent.is_set)
        return [first] + [x async for x in rx]

    assert placement.run(produce, consume) == [0, 1, 2, 3, 4]


def test_sender_close_wakes_a_waiting_receiver(placement: Placement) -> None:
    tx, rx = channel(4, int)
    waiting = threading.Event()

    async def produce() -> None:
        await until(waiting.is_set)
        await asyncio.sleep(0.01)
        tx.send_nowait(7)
        tx.close()
        with pytest.raises(ChannelClosed):
            tx.send_nowait(8)
        with pytest.raises(ChannelClosed):
            await tx.send(8)
        tx.close()  # closing twice is fine

    async def consume() -> list[int]:
        waiting.set()
        got = [await rx.receive()]
        with pytest.raises(EndOfChannel):
            await rx.receive()
        return got

    assert placement.run(produce, consume) == [7]


def test_receiver_close_breaks_a_waiting_sender(placement: Placement) -> None:
    tx, rx = channel(2, int)
    filled = threading.Event()

    async def produce() -> str:
        tx.send_nowait(1)
        tx.send_nowait(2)
        filled.set()
        with pytest.raises(BrokenChannel) as e:
            await tx.send(3)
        with pytest.raises(BrokenChannel):
            tx.send_nowait(4)
        tx.close()
        with pytest.raises(ChannelClosed):
            tx.send_nowait(5)
        return e.value.code

    async def consume() -> None:
        await until(filled.is_set)
        await asyncio.sleep(0.01)
        rx.close()
        assert len(rx) == 0  # buffered items are dropped
        with pytest.raises(ChannelClosed) as e:
            rx.receive_nowait()
        assert e.value.code == "channel_closed"
        with pytest.raises(ChannelClosed):
            await rx.receive()

    placement.run(produce, consume)


def test_batches_keep_order_and_bound(placement: Placement) -> None:
    tx, rx = channel(100, int)

    async def produce() -> None:
        for i in range(100):
            tx.send_nowait(i)
        tx.close()

    async def consume() -> list[int]:
        got: list[int] = []
        while True:
            try:
                batch = await rx.receive_many(7)
            except EndOfChannel:
                return got
            assert 1 <= len(batch) <= 7
            got += batch

    assert placement.run(produce, consume) == list(range(100))


def test_cancelled_receive_leaves_channel_usable(placement: Placement) -> None:
    tx, rx = channel(4, int)
    ready = threading.Event()

    async def produce() -> None:
        await until(ready.is_set)
        await tx.send(1)
        await tx.send(2)
        tx.close()

    async def consume() -> list[int]:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await rx.receive()
        ready.set()
        return [x async for x in rx]

    assert placement.run(produce, consume) == [1, 2]


def test_cancelled_send_leaves_channel_usable(placement: Placement) -> None:
    tx, rx = channel(1, int)
    ready = threading.Event()

    async def produce() -> None:
        await tx.send(0)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await tx.send(1)  # cancelled: 1 is never delivered
        ready.set()
        await tx.send(2)
        tx.close()

    async def consume() -> list[int]:
        await until(ready.is_set)
        return [x async for x in rx]

    assert placement.run(produce, consume) == [0, 2]


def test_stress_every_item_once_in_order(placement: Placement) -> None:
    n = 100_000
    tx, rx = channel(64, int, "stress")

    async def produce() -> None:
        for i in range(n):
            if i % 3:
                await tx.send(i)
            else:
                try:
                    tx.send_nowait(i)
                except WouldBlock:
                    await tx.send(i)
        tx.close()

    async def consume() -> list[int]:
        got: list[int] = []
        while True:
            try:
                if len(got) % 2:
                    got.append(await rx.receive())
                else:
                    got += await rx.receive_many(50)
            except EndOfChannel:
                return got

    assert placement.run(produce, consume, timeout=60) == list(range(n))


def test_producer_on_a_plain_thread_without_loop() -> None:
    tx, rx = channel(16, int)
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            for i in range(5000):
                for _ in range(200_000):  # bounded retries while full
                    try:
                        tx.send_nowait(i)
                        break
                    except WouldBlock:
                        time.sleep(0.0001)
                else:
                    raise AssertionError("consumer stalled")
            tx.close()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=produce)
    thread.start()

    async def consume() -> list[int]:
        return [x async for x in rx]

    try:
        got = arun(consume())
    finally:
        thread.join(30)
    assert not failures
    assert got == list(range(5000))


def test_one_task_at_a_time_per_end() -> None:
    tx, rx = channel(1, int)

    async def main() -> None:
        first = asyncio.create_task(rx.receive())
        await asyncio.sleep(0)
        with pytest.raises(LocalError) as e:
            await rx.receive()
        assert e.value.code == "channel_busy"
        tx.send_nowait(5)
        assert await first == 5

    arun(main())


def test_nowait_on_empty_and_full() -> None:
    tx, rx = channel(1, str)
    with pytest.raises(WouldBlock):
        rx.receive_nowait()
    with pytest.raises(WouldBlock):
        rx.receive_many_nowait(3)
    tx.send_nowait("a")
    with pytest.raises(WouldBlock):
        tx.send_nowait("b")
    assert rx.receive_many_nowait(3) == ["a"]


def test_type_checks() -> None:
    tx, _ = channel(4, int, "ints")
    with pytest.raises(LocalError) as e:
        tx.send_nowait("x")  # type: ignore[arg-type]
    assert e.value.code == "channel_wrong_type"
    tx.send_nowait(True)  # bool is an int

    class A:
        pass

    class B:
        pass

    for union in (A | B, typing.Union[A, B], A | B | None):  # noqa: UP007
        utx: Sender[typing.Any]
        urx: Receiver[typing.Any]
        utx, urx = channel(4, union)
        utx.send_nowait(A())
        utx.send_nowait(B())
        with pytest.raises(LocalError):
            utx.send_nowait(1)
        with pytest.raises(LocalError):
            asyncio.run(utx.send(2))
        assert [type(x) for x in urx.receive_many_nowait(9)] == [A, B]
    for bad in (list[int], "int", 3):
        with pytest.raises(LocalError) as e:
            channel(4, bad)
        assert e.value.code == "channel_bad_type"
    for cap in (0, -1):
        with pytest.raises(LocalError) as e:
            channel(cap, int)
        assert e.value.code == "channel_bad_capacity"


def test_context_managers_close_both_ends() -> None:
    tx, rx = channel(2, int)
    with tx:
        tx.send_nowait(1)
    assert tx.closed
    with rx:
        assert rx.receive_nowait() == 1
        with pytest.raises(EndOfChannel):
            rx.receive_nowait()
    assert rx.closed
    assert "Receiver" in repr(rx) and rx.capacity == 2


# One thread, any sequence of operations: the channel behaves like a bounded deque.
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 1000)),
        st.tuples(st.just("recv"), st.just(0)),
        st.tuples(st.just("many"), st.integers(1, 5)),
        st.tuples(st.just("close_tx"), st.just(0)),
        st.tuples(st.just("close_rx"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(cap=st.integers(1, 5), ops=_ops)
def test_matches_a_bounded_queue_model(cap: int, ops: list[tuple[str, int]]) -> None:
    tx, rx = channel(cap, int)
    model: list[int] = []
    tx_closed = rx_closed = False
    for op, arg in ops:
        if op == "send":
            if tx_closed:
                expected: type[BaseException] | None = ChannelClosed
            elif rx_closed:
                expected = BrokenChannel
            elif len(model) >= cap:
                expected = WouldBlock
            else:
                expected = None
                model.append(arg)
            if expected is None:
                tx.send_nowait(arg)
            else:
                with pytest.raises(expected):
                    tx.send_nowait(arg)
        elif op in ("recv", "many"):
            take = 1 if op == "recv" else arg
            if rx_closed:
                empty: type[BaseException] | None = ChannelClosed
            elif model:
                empty = None
            else:
                empty = EndOfChannel if tx_closed else WouldBlock
            if empty is not None:
                with pytest.raises(empty):
                    rx.receive_nowait() if op == "recv" else rx.receive_many_nowait(take)
            elif op == "recv":
                assert rx.receive_nowait() == model.pop(0)
            else:
                assert rx.receive_many_nowait(take) == model[:take]
                del model[:take]
        elif op == "close_tx":
            tx.close()
            tx_closed = True
        else:
            rx.close()
            rx_closed = True
            model.clear()
        assert len(rx) == len(model)


@pytest.mark.parametrize("waiting_side", ["receiver", "sender"])
def test_no_lost_wakeup_under_frequent_thread_switches(waiting_side: str) -> None:
    """One end waits on a loop, the other spins on a plain thread; switch threads often."""
    n = 10_000
    tx, rx = channel(2, int)
    got: list[int] = []

    def spin_send() -> None:
        for i in range(n):
            while True:
                try:
                    tx.send_nowait(i)
                    break
                except WouldBlock:
                    time.sleep(0)
                except BrokenChannel:
                    return  # the waiting side gave up (and failed the test)
        tx.close()

    def spin_receive() -> None:
        while True:
            try:
                got.append(rx.receive_nowait())
            except WouldBlock:
                time.sleep(0)
            except (EndOfChannel, ChannelClosed):
                return

    async def receive_all() -> None:
        try:
            got.extend([x async for x in rx])
        finally:
            rx.close()

    async def send_all() -> None:
        try:
            for i in range(n):
                await tx.send(i)
        finally:
            tx.close()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        if waiting_side == "receiver":
            thread = threading.Thread(target=spin_send)
            thread.start()
            try:
                arun(receive_all(), 20)
            finally:
                thread.join(10)
        else:
            spinner = threading.Thread(target=spin_receive)
            spinner.start()
            try:
                arun(send_all(), 20)
            finally:
                spinner.join(10)
    finally:
        sys.setswitchinterval(old)
    assert got == list(range(n))
