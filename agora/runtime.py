"""Event loops for actors: uvloop when it is installed, else asyncio's own.

`run` drives an actor on the calling thread; `ActorThread` gives an actor its
own thread and loop, so placing actors on threads is a deployment choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import ModuleType
from typing import Any, Generic, TypeVar

from agora.errors import LocalError

# gen0 every 100k new container objects (a few a second under load), gen1 every 10 of
# those, a full collection every 10 of those (and only once the old objects grew 25%).
GC_THRESHOLDS = (100_000, 10, 10)
T = TypeVar("T")

_uvloop: ModuleType | None
try:
    _uvloop = importlib.import_module("uvloop")
except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
    _uvloop = None


def uvloop_available() -> bool:
    return _uvloop is not None


def new_event_loop(*, use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """A fresh loop: uvloop unless it is missing or `use_uvloop` is False."""
    if use_uvloop is None:
        use_uvloop = _uvloop is not None
    if use_uvloop:
        if _uvloop is None:
            raise LocalError("uvloop is not installed", code="uvloop_missing")
        loop: asyncio.AbstractEventLoop = _uvloop.new_event_loop()
        return loop
    return asyncio.SelectorEventLoop()


def call_on_loop(
    loop: asyncio.AbstractEventLoop | None, fn: Callable[[], object], fallback: Callable[[], object]
) -> None:
    """Run `fn` on `loop` from any thread: now if we are on it, else scheduled there;
    `fallback` (run here) if the loop never started or has closed."""
    if loop is None or loop.is_closed():
        fallback()
    elif loop is asyncio._get_running_loop():
        fn()
    else:
        try:
            loop.call_soon_threadsafe(fn)
        except RuntimeError:  # it closed meanwhile: whatever ran it has stopped
            pass


def run(
    main: Coroutine[Any, Any, T],
    *,
    use_uvloop: bool | None = None,
    debug: bool | None = None,
    timeout: float | None = None,
) -> T:
    """Run `main` to completion on a new loop (like `asyncio.run`); TimeoutError if it
    takes longer than `timeout` seconds (tests bound every run this way)."""
    with asyncio.Runner(
        debug=debug, loop_factory=lambda: new_event_loop(use_uvloop=use_uvloop)
    ) as r:
        return r.run(main if timeout is None else _bounded(main, timeout))


async def _bounded(main: Coroutine[Any, Any, T], seconds: float) -> T:
    async with asyncio.timeout(seconds):
        return await main


class ActorThread(Generic[T]):
    """Runs one actor's main coroutine on its own thread with its own loop."""

    def __init__(
        self,
        main: Callable[[], Coroutine[Any, Any, T]],
        name: str = "actor",
        *,
        use_uvloop: bool | None = None,
    ) -> None:
        self._main = main
        self._use_uvloop = use_uvloop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[T] | None = None
        self._result: T | None = None
        self._error: BaseException | None = None

    @property
    def name(self) -> str:
        return self._thread.name

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = run(self._wrapped(), use_uvloop=self._use_uvloop)
        except BaseException as exc:  # handed to join(), which re-raises it
            self._error = exc
        finally:
            self._ready.set()

    async def _wrapped(self) -> T:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._ready.set()
        return await self._main()

    def cancel(self) -> None:
        """Cancel the actor's main task from any thread (no-op once it has ended)."""
        if self._thread.ident is None:
            raise LocalError(
                f"actor thread {self.name} was never started", code="thread_not_started"
            )
        self._ready.wait()
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile: the actor has ended
                pass

    def join(self, timeout: float | None = None) -> T:
        """Wait for the actor to end; return its result or re-raise its exception."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise LocalError(f"actor thread {self.name} still running", code="thread_timeout")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


def tune_gc() -> None:
    """Collect cycles far less often than CPython's default (700 young objects): a busy
    node allocates hundreds of thousands of short-lived objects a second, and the
    collector's passes over them (and over the mempool and the decoded blocks, again
    and again) took 11-15% of its CPU in `agora bench devnet` at 1,000 tx/s, 3-4%
    with these thresholds. What is alive at start-up is frozen out of the
    collector's sight for good (modules, tables, the genesis)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextlib.contextmanager
def node_gc() -> Iterator[None]:
    """The node's collector settings for a stretch of work, so that a benchmark of the
    node's pipeline runs as the node would; the thresholds are put back after."""
    old = gc.get_threshold()
    tune_gc()
    try:
        yield
    finally:
        gc.set_threshold(*old)
