"""The cyclic garbage collector's pace during a chain poll."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fewer_collections() -> Iterator[None]:
    """A range's answer is thousands of log objects, then as many transfers and receipt rows,
    all alive until the range is committed (and none in a reference cycle): with the default
    thresholds the cyclic collector walks them, and the whole process, again every few hundred
    allocations (measured: 6-12 ms of a 100 ms poll). During a poll it collects less often (still
    collects: thresholds, not disabled); the old thresholds are restored afterwards.
    Process-wide, like every gc setting, for the poll's duration (as ``recon_runs.run``)."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
