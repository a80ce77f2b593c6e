"""Helpers shared by the runtime tests (named uniquely: tests have no packages)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from agora import runtime

T = TypeVar("T")


async def bounded(coro: Coroutine[Any, Any, T], seconds: float) -> T:
    async with asyncio.timeout(seconds):
        return await coro


def arun(coro: Coroutine[Any, Any, T], timeout: float = 20.0, use_uvloop: bool | None = None) -> T:
    """Run one test coroutine on a fresh loop, bounded in time."""
    return runtime.run(coro, use_uvloop=use_uvloop, timeout=timeout)


async def until(pred: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll `pred` (set from another thread, say) until it holds; bounded."""
    async with asyncio.timeout(seconds):
        while not pred():  # noqa: ASYNC110 - the flag may be set by another thread
            await asyncio.sleep(0.001)


class Placement:
    """Where a test's producer and consumer run: one loop, or a thread each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def run(
        self,
        producer: Callable[[], Coroutine[Any, Any, Any]],
        consumer: Callable[[], Coroutine[Any, Any, T]],
        timeout: float = 20.0,
    ) -> T:
        if self.kind == "same_loop":

            async def both() -> T:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(producer())
                    c = tg.create_task(consumer())
                return c.result()

            return arun(both(), timeout)
        thread = runtime.ActorThread(lambda: bounded(producer(), timeout), "producer")
        thread.start()
        try:
            result = arun(consumer(), timeout)
        except BaseException:
            thread.cancel()
            raise
        finally:
            thread.join(timeout + 5)  # re-raises what the producer raised
        return result
