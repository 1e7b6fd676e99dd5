"""Process tuning for a long-running center (used by `hotline serve` and the benchmarks)."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Fewer, cheaper garbage collections once start-up is done.

    Everything alive after start-up (modules, tables, templates) is frozen out of the
    collector's sight, and young-generation passes run less often: with thousands of live
    call and ticket objects, full passes otherwise pause the loop for tens of milliseconds,
    which is longer than a screen pop may take.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
