"""The process tuning `hotline serve` applies once it is up."""

from __future__ import annotations

import gc
import sys

import pytest

from hotline.runtime import SWITCH_INTERVAL_SECONDS, tune_process


def test_tune_process_sets_collector_and_switch_interval() -> None:
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        tune_process()
        assert gc.get_threshold() == (50_000, 50, 100)
        assert gc.get_freeze_count() > 0
        # kept in whole microseconds: 50 µs reads back as 4.9999…e-05
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_SECONDS, abs=1e-7)
        assert sys.getswitchinterval() < interval
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
