"""`Sender.send_many_nowait`: as much of a list as fits, in order, one wake-up."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rt_util import Placement, until

from agora.errors import LocalError
from agora.spsc import BrokenChannel, ChannelClosed, EndOfChannel, channel


@pytest.fixture(params=["same_loop", "two_threads"])
def placement(request: pytest.FixtureRequest) -> Placement:
    return Placement(request.param)


def test_sends_what_fits_and_says_how_many() -> None:
    tx, rx = channel(5, int, "many")
    assert tx.send_many_nowait([1, 2, 3]) == 3
    assert tx.send_many_nowait([4, 5, 6, 7]) == 2  # room for two
    assert tx.send_many_nowait([8]) == 0  # full: nothing, no error
    assert tx.send_many_nowait([]) == 0
    assert rx.receive_many_nowait(9) == [1, 2, 3, 4, 5]
    assert tx.send_many_nowait((6, 7)) == 2  # any sequence
    assert rx.receive_many_nowait(9) == [6, 7]


def test_type_checked_before_anything_is_sent() -> None:
    tx, rx = channel(8, int, "typed")
    with pytest.raises(LocalError) as e:
        tx.send_many_nowait([1, 2, "three", 4])  # type: ignore[list-item]
    assert e.value.code == "channel_wrong_type"
    assert len(rx) == 0  # not even the good ones before it


def test_closed_ends() -> None:
    tx, rx = channel(4, int)
    rx.close()
    with pytest.raises(BrokenChannel):
        tx.send_many_nowait([1])
    tx2, rx2 = channel(4, int)
    tx2.close()
    with pytest.raises(ChannelClosed):
        tx2.send_many_nowait([1])
    with pytest.raises(EndOfChannel):
        rx2.receive_nowait()


def test_wakes_a_waiting_receiver(placement: Placement) -> None:
    tx, rx = channel(64, int, "wake")
    waiting = threading.Event()

    async def produce() -> None:
        await until(waiting.is_set)
        await asyncio.sleep(0.01)  # let the receiver really sleep on its waiter
        sent = 0
        for start in range(0, 1000, 50):
            chunk = list(range(start, start + 50))
            done = 0
            while done < len(chunk):  # bounded: the consumer drains
                n = tx.send_many_nowait(chunk[done:])
                done += n
                if not n:
                    await asyncio.sleep(0.001)
            sent += done
        assert sent == 1000
        tx.close()

    async def consume() -> list[int]:
        waiting.set()
        got: list[int] = []
        while True:
            try:
                got += await rx.receive_many(17)
            except EndOfChannel:
                return got

    assert placement.run(produce, consume) == list(range(1000))


@settings(max_examples=200, deadline=None)
@given(
    cap=st.integers(1, 6),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("many"), st.lists(st.integers(0, 99), max_size=8)),
            st.tuples(st.just("recv"), st.integers(1, 6)),
        ),
        max_size=40,
    ),
)
def test_matches_a_bounded_queue_model(cap: int, ops: list[tuple[str, object]]) -> None:
    tx, rx = channel(cap, int)
    model: list[int] = []
    for op, arg in ops:
        if op == "many":
            assert isinstance(arg, list)
            n = tx.send_many_nowait(arg)
            assert n == min(len(arg), cap - len(model))
            model += arg[:n]
        elif model:
            assert isinstance(arg, int)
            assert rx.receive_many_nowait(arg) == model[:arg]
            del model[:arg]
        assert len(rx) == len(model) <= cap
