"""Process tuning for a long-running center (used by `hotline serve` and the benchmarks)."""

from __future__ import annotations

import gc
import sys

# How long a thread may keep the GIL while another one asks for it. Python's default is
# 5 ms. A commit's trip to SQLite's driver thread takes the GIL back after each statement
# SQLite ran (the waiting inserts, the COMMIT and its fsync): eight or so times, each a
# wait of up to this long for a busy event loop, while every contact of the batch waits
# for its answer. At 0.5 ms those waits were about a third of the trip; at 50 µs the
# loop gives way at once (10 µs: the switching itself costs more than it saves).
SWITCH_INTERVAL_SECONDS = 0.00005


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
