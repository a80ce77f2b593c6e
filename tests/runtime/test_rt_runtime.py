"""runtime: loops (uvloop when available) and actor threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agora import runtime
from agora.errors import LocalError


def test_run_uses_uvloop_when_available() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    expected = "uvloop" if runtime.uvloop_available() else "asyncio"
    assert runtime.run(loop_module()).startswith(expected)
    assert runtime.run(loop_module(), use_uvloop=False).startswith("asyncio")
    loop = runtime.new_event_loop()
    try:
        assert type(loop).__module__.startswith(expected)
    finally:
        loop.close()


def test_actor_thread_returns_its_result_from_its_own_thread() -> None:
    async def main() -> tuple[str, int]:
        await asyncio.sleep(0)
        return threading.current_thread().name, 7

    actor = runtime.ActorThread(main, "actor-7")
    actor.start()
    assert actor.join(10) == ("actor-7", 7)


def test_actor_thread_reraises_and_can_be_cancelled() -> None:
    async def fail() -> None:
        raise LocalError("broken", code="test_broken")

    failing = runtime.ActorThread(fail, "failing")
    failing.start()
    with pytest.raises(LocalError) as e:
        failing.join(10)
    assert e.value.code == "test_broken"

    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    sleeper = runtime.ActorThread(forever, "sleeper")
    sleeper.start()
    assert started.wait(10)
    with pytest.raises(LocalError) as e:
        sleeper.join(0.01)
    assert e.value.code == "thread_timeout"
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        sleeper.join(10)
    sleeper.cancel()  # once ended, a no-op
