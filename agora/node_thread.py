"""`ThreadedActor`: an actor on its own thread and loop, run like any other by the node.

The node runs every actor's `run()` in one TaskGroup. This wrapper's `run()`
starts the inner actor on an `ActorThread` and waits, without blocking the
node's loop, until it ends; its error (if any) is raised here, so a crash of
the blockchain actor ends the node like a crash of any other. `stop()` asks
the inner actor to stop (its `stop()` must be safe from another thread). If
the wrapper is cancelled, the inner actor is stopped and waited for, so that
its resources (the SQLite writer) are closed before the process goes on.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from agora.runtime import ActorThread

JOIN_TIMEOUT_S = 30.0


class InnerActor(Protocol):
    name: str

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class ThreadedActor:
    def __init__(self, inner: InnerActor, *, use_uvloop: bool | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.use_uvloop = use_uvloop

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def ended() -> None:
            if not done.done():
                done.set_result(None)

        async def main() -> None:
            try:
                await self.inner.run()
            finally:
                try:
                    loop.call_soon_threadsafe(ended)
                except RuntimeError:  # the node's loop is closed: nobody waits
                    pass

        self.thread: ActorThread[None] = ActorThread(
            main, f"actor:{self.name}", use_uvloop=self.use_uvloop
        )
        self.thread.start()
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            self.inner.stop()
            await asyncio.to_thread(self.thread.join, JOIN_TIMEOUT_S)
            raise
        self.thread.join(JOIN_TIMEOUT_S)  # it has ended: raises its error, if any

    def stop(self) -> None:
        self.inner.stop()
