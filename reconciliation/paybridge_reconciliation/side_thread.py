"""Work handed to a second thread when a core is free for it, else done when its result is
asked for.

Why: publishing builds independent tables whose numpy, pandas and Arrow work mostly releases
the GIL: the second thread looks up the fair values and builds the exceptions and the journals
while this one builds the status and matches, so on two cores they overlap (publish 2.8 ->
2.3 s at 1M requests with only the fair values and exceptions beside; 2.85 -> 2.65 s in
interleaved runs with the journals beside too). But reconcile-files already writes and hashes
its CSVs on background threads beside publishing; there a third busy thread only competes for
the same two cores (no faster, in interleaved runs of both schedules) and holds more tables at
once (peak memory 1.75 -> 2.14-2.24 GB at 1M), so it publishes with ``parallel=False``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Pending(Protocol[T_co]):
    def result(self) -> T_co: ...


class _Later(Generic[T]):
    """A call made on this thread when its result is first asked for (then kept)."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        self._call: tuple[Callable[..., T], tuple[Any, ...]] | None = (fn, args)
        self._value: T | None = None

    def result(self) -> T:
        if self._call is not None:
            fn, args = self._call
            self._value, self._call = fn(*args), None  # the arguments let go once used
        return self._value  # type: ignore[return-value]


def on_demand(fn: Callable[..., T], *args: Any) -> Pending[T]:
    """``fn(*args)`` on this thread when its result is first asked for."""
    return _Later(fn, args)


@contextmanager
def side_thread(parallel: bool, name: str) -> Iterator[Callable[..., Pending[Any]]]:
    """``submit(fn, *args)``: on a second thread (named ``name``) when ``parallel``, else on
    this one at ``result()``. Leaving the block waits for the second thread."""
    if not parallel:
        yield on_demand
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        yield pool.submit
