"""The node's garbage-collector tuning."""

from __future__ import annotations

import gc

from agora.runtime import GC_THRESHOLDS, tune_gc


def test_tune_gc_raises_the_thresholds_and_freezes_what_is_alive() -> None:
    before = gc.get_threshold()
    try:
        keep = [[i] for i in range(100)]  # containers alive at start-up
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() >= len(keep)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert gc.get_freeze_count() == 0
