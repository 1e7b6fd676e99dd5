"""Process tuning for a long-running center (used by `hotline serve` and the benchmarks)."""

from __future__ import annotations

import gc
import sys

# How long a thread may keep the GIL while another one asks for it. Python's default is
# 5 ms: each time a SQLite driver thread comes back from the disk (a commit, its fsync,
# the inserts that wait for it) it waited up to that long for a busy event loop, and
# every contact of the batch waited with it. The loop gives way for a moment instead.
SWITCH_INTERVAL_SECONDS = 0.0005


def tune_process() -> None:
    """Fewer, cheaper garbage collections, and threads that get the GIL back sooner.

    Everything alive after start-up (modules, tables, templates) is frozen out of the
    collector's sight, and young-generation passes run less often: with thousands of live
    call and ticket objects, full passes otherwise pause the loop for tens of milliseconds,
    which is longer than a screen pop may take.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
