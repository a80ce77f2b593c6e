"""What a node shows while block sync is far behind: a progress bar, or log lines.

On a terminal (stderr is a TTY) a rich progress bar with blocks/s and the time
left; otherwise a `sync_progress` log line every few seconds with the same
figures. It appears once the node is more than `threshold` blocks behind and
goes away when it is caught up.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from agora.logs import Log

RATE_WINDOW_S = 10.0
_log = Log("agora.consensus.sync")


class SyncProgress:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        threshold: int = 10,
        log_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.threshold = threshold
        self.log_every_s = log_every_s
        self.clock = clock
        self.active = False
        self.rate = 0.0  # blocks a second, over the last RATE_WINDOW_S
        self.eta_s: float | None = None
        self._samples: deque[tuple[float, int]] = deque()
        self._start = 0
        self._logged_at = -1e9
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def update(self, height: int, target: int) -> None:
        now = self.clock()
        if not self.active:
            if target - height <= self.threshold:
                return
            self._begin(height, target, now)
        self._samples.append((now, height))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        t0, h0 = self._samples[0]
        self.rate = (height - h0) / (now - t0) if now > t0 else 0.0
        left = max(0, target - height)
        self.eta_s = left / self.rate if self.rate > 0 else None
        if left <= 1:
            self.finish(height)
            return
        self._show(height, target, now)

    def _begin(self, height: int, target: int, now: float) -> None:
        self.active = True
        self._start = height
        self._samples.clear()
        _log.info("sync_started", height=height, target=target)
        if self.tty:
            console = Console(file=self.stream)
            self._bar = Progress(
                TextColumn("sync"),
                BarColumn(),
                TextColumn("{task.fields[where]}  {task.fields[rate]}  ETA {task.fields[eta]}"),
                console=console,
                transient=True,
            )
            self._task = self._bar.add_task(
                "sync", total=target - height, where="", rate="", eta=""
            )
            self._bar.start()

    def _show(self, height: int, target: int, now: float) -> None:
        eta = "?" if self.eta_s is None else f"{self.eta_s:.0f}s"
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                completed=height - self._start,
                total=target - self._start,
                where=f"{height}/{target}",
                rate=f"{self.rate:.1f} blocks/s",
                eta=eta,
            )
        elif now - self._logged_at >= self.log_every_s:
            self._logged_at = now
            _log.info(
                "sync_progress",
                height=height,
                target=target,
                blocks_per_s=round(self.rate, 1),
                eta_s=None if self.eta_s is None else round(self.eta_s, 1),
            )

    def finish(self, height: int) -> None:
        if not self.active:
            return
        self.active = False
        self.close()
        _log.info("sync_caught_up", height=height, synced=height - self._start)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None
