"""What `agora node` shows while block sync is far behind: a bar on a terminal, else log lines."""

from __future__ import annotations

import io
import logging

import pytest

from agora.consensus_client.progress import SyncProgress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_on_a_terminal_a_bar_with_rate_and_eta_until_caught_up() -> None:
    out, clock = Tty(), Clock()
    p = SyncProgress(out, clock=clock)
    p.update(0, 5)
    assert not p.active  # a few blocks behind: nothing to show
    p.update(0, 1000)
    assert p.active and p.tty
    for h in range(100, 1001, 100):
        clock.t += 1.0
        p.update(h, 1000)
        if h < 1000:
            assert p.rate == pytest.approx(100.0)
            assert p.eta_s == pytest.approx((1000 - h) / 100.0)
    assert not p.active  # caught up: the bar is gone
    assert "blocks/s" in out.getvalue()


def test_elsewhere_log_lines_every_few_seconds(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    p = SyncProgress(io.StringIO(), clock=clock, log_every_s=5.0)
    with caplog.at_level(logging.INFO, logger="agora.consensus.sync"):
        p.update(0, 200)
        for h in range(10, 201, 10):
            clock.t += 1.0
            p.update(h, 200)
    events = [r.getMessage() for r in caplog.records]
    assert events[0] == "sync_started" and events[-1] == "sync_caught_up"
    lines = [r for r in caplog.records if r.getMessage() == "sync_progress"]
    assert 3 <= len(lines) <= 5  # about one per 5 s over 20 s
    last = lines[-1].fields  # type: ignore[attr-defined]
    assert last["blocks_per_s"] == pytest.approx(10.0) and last["target"] == 200
