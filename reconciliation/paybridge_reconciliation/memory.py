"""How a large run (reconcile-files, the engine at 1M rows) uses the process's memory.

One heap (`share_one_heap`): numpy and Python objects allocate from glibc's heap, and Arrow
(so pandas' text columns) by default from its own pool (mimalloc). Neither reuses what the
other freed, and every freed block soon went back to the OS, so each step faulted fresh pages
in again: a fifth of reconcile-files' CPU time was the kernel zeroing pages. With Arrow on
glibc's heap and glibc keeping what it frees (blocks up to 32 MiB on the heap instead of in
their own mappings, no automatic trim below 1 GiB), one step reuses what the last one freed:
at 1M requests the engine with all outputs took 4.7-4.9 s instead of 6.0 s, with 0.2 GB less
peak memory, and reconcile-files' peak fell from 1.85-1.89 to 1.75-1.78 GB (3 runs each).

Giving back (`give_back_memory`): between the steps of a large run the freed pages are handed
back to the OS explicitly, so they do not add up into the process's peak (the benchmark
compares that peak with DuckDB's). Giving them back costs a few milliseconds, so it is done
only for large tables, and not while threads work side by side (`memory_kept`).

Huge pages (`huge_pages`): what glibc maps for these heaps can be backed by transparent huge
pages, a setting a process must start with; the heavy CLI commands start again with it.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyarrow as pa

#: below this many rows a step frees too little to be worth a call
LARGE = 100_000
#: glibc's mallopt parameters (malloc.h) and the values `share_one_heap` sets: 32 MiB is the
#: largest mmap threshold glibc accepts; the trim threshold is a C int (at most 2 GiB - 1)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
HEAP_BLOCK_LIMIT, TRIM_ABOVE = 32 << 20, 1 << 30


def libc_function(name: str) -> Callable[..., int] | None:
    """A C library function, where there is one (not on musl, macOS or Windows): looked up among
    the symbols the process already has (no ``ldconfig`` run to find libc)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):
        return None


_MALLOC_TRIM = libc_function("malloc_trim")
_MALLOPT = libc_function("mallopt")


@functools.cache
def share_one_heap() -> None:
    """Arrow allocates from glibc's heap, which keeps what it frees (see the module's doc).

    Process-wide and once per process: Arrow's default pool for new buffers (buffers already
    made stay with their own pool) and glibc's thresholds. Without glibc only Arrow's pool
    changes."""
    pa.set_memory_pool(pa.system_memory_pool())
    if _MALLOPT is not None:
        _MALLOPT(M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT)
        _MALLOPT(M_TRIM_THRESHOLD, TRIM_ABOVE)


def give_back_memory(rows: int = LARGE) -> None:
    """Return the pages freed so far to the OS (Arrow's pool, then glibc's heaps, including
    free chunks below the top), when the step just done had at least ``LARGE`` rows and no
    `memory_kept` block is running."""
    if rows < LARGE or _kept_blocks:
        return
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


_kept_blocks = 0  # `memory_kept` blocks running, in any thread
_kept_lock = threading.Lock()


@contextmanager
def memory_kept(active: bool = True) -> Iterator[None]:
    """While the block runs (when ``active``), `give_back_memory` keeps freed pages.

    Why: giving back is process-wide. Where two threads build tables side by side (publishing
    in parallel: the engine with all outputs, the reports), one thread's give-back hands the OS
    pages the other was about to reuse, and they are faulted in again. At 1M requests the
    engine's publishing took 1.51 s instead of 1.79 s this way (1.46-1.61 against 1.56-2.22 s:
    medians of 4 runs in each of 5 alternated pairs of processes), for 0.05-0.1 GB more peak
    memory."""
    global _kept_blocks
    if not active:
        yield
        return
    with _kept_lock:
        _kept_blocks += 1
    try:
        yield
    finally:
        with _kept_lock:
            _kept_blocks -= 1
