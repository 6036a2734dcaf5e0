"""Derivation indexes reserved in small blocks per process, for one-at-a-time creators (the API).

Why: ``allocation`` locks the xpub's counter row until the creating transaction commits. That
is right for batches of ERP invoices (which must re-read what others created), but under an API
taking concurrent orders every order waited for every other one's whole transaction: the lock,
not the work, set the throughput. An API order is always a new invoice (a fresh order id), so
it has no race to lose: it only needs an index nobody else has.

How: a process reserves ``block`` indexes at once in its own short transaction (the counter is
bumped and committed, so blocks of different processes and workers never overlap) and hands
them out from memory. An index whose order rolls back is given back and handed out next
(lowest first), so a running process leaves no hole. What a crash loses is the rest of each
live process's block (at most ``block - 1`` unused indexes per process with the default block
of 4) plus the indexes of the orders it was writing: under load the API's order writer reserves
one batch's worth (up to 60) at once, so a crash mid-batch can leave a gap wider than a
wallet's usual gap limit of 20; ``paybridge requests gaps`` (``requests.gaps``) reports the gap
limit a wallet then needs. The unique constraint on (xpub, index) still backs uniqueness up.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge.store.models import DerivationCounter

DEFAULT_BLOCK = 4


class IndexPool:
    """Free indexes per xpub fingerprint, refilled a block at a time from the counter row."""

    def __init__(self, engine: Engine, block: int = DEFAULT_BLOCK) -> None:
        if block < 1:
            raise ValueError(f"index block size must be >= 1, got {block}")
        self._engine = engine
        self._block = block
        self._free: dict[str, list[int]] = {}
        self._lock = threading.RLock()  # take() tops up under it

    def take(self, fingerprint: str, count: int) -> list[int]:
        """``count`` indexes nobody else holds, lowest first."""
        with self._lock:
            self.top_up(fingerprint, count)
            free = self._free[fingerprint]
            return [heapq.heappop(free) for _ in range(count)]

    def top_up(self, fingerprint: str, count: int, connection: sa.Connection | None = None) -> None:
        """Hold at least ``count`` free indexes now (reserving a block if needed), so that a
        ``take`` soon after needs no transaction of its own. ``connection``: reserve on this
        one (outside any transaction; the API's order writer passes its own) rather than on
        one from the engine's pool."""
        with self._lock:
            free = self._free.setdefault(fingerprint, [])
            if len(free) < count:
                size = max(self._block, count - len(free))
                start = self._reserve(fingerprint, size, connection)
                for index in range(start, start + size):
                    heapq.heappush(free, index)

    def give_back(self, fingerprint: str, indexes: list[int]) -> None:
        """Indexes taken but not used (their order rolled back): handed out again first."""
        with self._lock:
            free = self._free.setdefault(fingerprint, [])
            for index in indexes:
                heapq.heappush(free, index)

    def forget(self) -> None:
        """Drop every free index (a gap, never a duplicate): after the connection to the store
        was lost, as the server may have crashed before a reservation reached its disk (see
        ``_reserve``), and the counter may hand those indexes out again."""
        with self._lock:
            self._free.clear()

    def _reserve(self, fingerprint: str, size: int, connection: sa.Connection | None) -> int:
        """Bump the counter by ``size`` in a transaction of its own; the block's first index."""
        table = DerivationCounter.__table__
        bump = (
            sa.update(table)
            .where(table.c.xpub_fingerprint == fingerprint)
            .values(next_index=table.c.next_index + size)
            .returning(table.c.next_index)
        )
        with _own_transaction(self._engine, connection) as conn:
            if conn.dialect.name == "postgresql":
                # no wait for the disk here (a WAL flush, milliseconds on a busy machine): a
                # request that uses these indexes commits later, and its commit flushes this
                # earlier record with it; lost in a crash, the block was used by nothing (and
                # the order writer ``forget``s its free indexes once it sees a lost connection)
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            after = conn.execute(bump).scalar_one_or_none()
            if after is None:
                if self._engine.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert
                else:
                    from sqlalchemy.dialects.sqlite import insert
                first = {"xpub_fingerprint": fingerprint, "next_index": 0}
                conn.execute(insert(table).values(**first).on_conflict_do_nothing())
                after = conn.execute(bump).scalar_one()
        return int(after) - size


@contextmanager
def _own_transaction(engine: Engine, connection: sa.Connection | None) -> Iterator[sa.Connection]:
    if connection is None:
        with engine.begin() as conn:
            yield conn
    else:
        with connection.begin():
            yield connection


def pool_for(engine: Engine) -> IndexPool | None:
    """A pool for a store that other connections can see; None for an in-memory SQLite store
    (one connection: a transaction of its own would not be one), which keeps the row lock."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database in (None, "", ":memory:"):
        return None
    return IndexPool(engine)
