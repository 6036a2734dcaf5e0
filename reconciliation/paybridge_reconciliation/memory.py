"""Freed memory handed back to the OS between the steps of a large run (reconcile-files).

Why: numpy and Python objects allocate from glibc's heap, Arrow (and so pandas' text columns)
from its own pool (mimalloc); neither reuses what the other freed, and both keep freed pages.
At 1M requests each step of publishing leaves 0.2-0.5 GB of such pages, which add up into the
process's peak (the benchmark compares that peak with DuckDB's). Giving them back costs a few
milliseconds, so it is done only for large tables.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import pyarrow as pa

#: below this many rows a step frees too little to be worth a call
LARGE = 100_000


def _libc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one (not on musl, macOS or Windows): looked up
    among the symbols the process already has (no ``ldconfig`` run to find libc)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


_MALLOC_TRIM = _libc_trim()


def give_back_memory(rows: int = LARGE) -> None:
    """Return the pages freed so far to the OS (Arrow's pool, then glibc's heaps, including
    free chunks below the top), when the step just done had at least ``LARGE`` rows."""
    if rows < LARGE:
        return
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
