"""Group commit of create-orders: one writer thread per API process, one transaction per batch.

Why: every order appends to the audit chain, whose single head row each appender locks until
its commit; with one transaction per order, 32 concurrent orders queue on that lock (a
statement pattern PostgreSQL runs at about 530 per second on this kind of machine, whatever
the API does). Here the request handlers hand their orders to the process's writer, which
takes whatever is queued (up to ``MAX_BATCH``) and writes it in ONE transaction: each order
in its own SAVEPOINT (a refused order rolls back only itself and gets its own answer), the
accepted orders' audit entries in one append (one claim of the head per batch), one COMMIT.
Only then is each request answered: no 201 for an order that was not committed.

A lone order waits for no timer: the writer runs what is queued when it wakes, and orders
arriving meanwhile form the next batch. If a batch cannot commit (connection lost,
serialization failure, deadlock, a constraint checked at commit), its orders are retried one
by one, each in a transaction of its own (their Idempotency-Key claims make that safe); an
order that fails alone too is answered 503, telling the client to retry with the same key.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from paybridge.api.problems import ApiProblem
from paybridge.requests.index_pool import IndexPool
from paybridge.store.db import savepoint, session_factory

#: the most orders one transaction takes (the rest wait for the next one): each order's
#: savepoint is a subtransaction, and PostgreSQL caches 64 of them per transaction
MAX_BATCH = 60
#: seconds without orders after which the writer thread ends (started again by the next)
IDLE_SECONDS = 5.0

_log = logging.getLogger(__name__)


@dataclass
class OrderJob:
    """One order: ``write(session, memo)`` runs in its own savepoint of the batch's transaction;
    ``memo`` is shared by the batch's orders (what one order looked up, the next may reuse)."""

    write: Callable[[Session, dict[Any, Any]], Any]
    #: the xpub fingerprint it takes an address index from (topped up before the batch)
    fingerprint: str | None = None
    #: sent with an Idempotency-Key: safe to retry (an IntegrityError means the same key raced
    #: us, then a replay; a retry after a COMMIT whose outcome is unknown replays it if saved)
    keyed: bool = False
    future: Future[Any] = field(default_factory=Future)


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None


class _BatchFailed(Exception):
    """The batch's transaction could not commit (or its connection failed): nothing of it
    was written."""


class OrderWriter:
    """The process's order writer: ``submit`` an order, await its future."""

    def __init__(
        self, engine: Engine, index_pool: IndexPool | None, max_batch: int = MAX_BATCH
    ) -> None:
        self._engine = engine
        self._pool = index_pool
        self._max = max_batch
        self._queue: queue.SimpleQueue[OrderJob] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._sqlite = engine.dialect.name == "sqlite"
        #: the writer thread's own connection, kept between batches (no pool checkout and
        #: liveness ping per batch); closed when a batch fails and when the thread ends
        self._connection: Connection | None = None

    def submit(self, job: OrderJob) -> Future[Any]:
        """Queue ``job``; its future holds ``write``'s result once the batch committed, or the
        exception that is the order's answer."""
        with self._lock:
            self._queue.put(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="order-writer", daemon=True)
                self._thread.start()
        return job.future

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:  # submit() starts a new thread if this one has ended
                    if self._queue.empty():
                        self._thread = None
                        self._close()
                        return
                continue
            jobs = [first]
            while len(jobs) < self._max:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._run(jobs)
            except BaseException as exc:  # never leave a request waiting
                _log.exception("order batch failed")
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _run(self, jobs: list[OrderJob]) -> None:
        try:
            self._top_up(jobs)
            outcomes = self._batch(jobs)
        except (_BatchFailed, DBAPIError) as exc:
            _log.warning("order batch of %d not committed (%s): each retried alone", len(jobs), exc)
            if self._pool is not None and getattr(exc, "connection_invalidated", False):
                self._pool.forget()  # the server may have restarted and lost a reservation
            unknown = _outcome_unknown(exc)
            outcomes = [
                _Outcome(error=_maybe_saved(exc)) if unknown and not job.keyed else self._alone(job)
                for job in jobs
            ]
        for job, outcome in zip(jobs, outcomes, strict=True):
            if outcome.error is not None:
                job.future.set_exception(outcome.error)
            else:
                job.future.set_result(outcome.value)

    def _alone(self, job: OrderJob) -> _Outcome:
        try:
            self._top_up([job])
            (outcome,) = self._batch([job])
        except (_BatchFailed, DBAPIError) as exc:
            return _Outcome(error=_not_saved(exc))
        return outcome

    def _top_up(self, jobs: list[OrderJob]) -> None:
        """Reserve the batch's address indexes before its transaction (the pool reserves in a
        transaction of its own, which on SQLite would wait for the batch's write lock)."""
        if self._pool is None:
            return
        for fingerprint, count in Counter(j.fingerprint for j in jobs if j.fingerprint).items():
            try:
                self._pool.top_up(fingerprint, count, self._connected())
            except BaseException:
                self._close()
                raise

    def _batch(self, jobs: list[OrderJob]) -> list[_Outcome]:
        """All of ``jobs`` in one transaction; their outcomes, valid only once this returns
        (committed). Raises ``_BatchFailed`` or the driver's error when nothing was written."""
        try:
            with self._session() as session, session.begin():
                if self._sqlite:
                    # the batch takes the write lock first; and pysqlite issues no BEGIN before
                    # a SAVEPOINT, which would then be the transaction, committed on its own
                    session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                memo: dict[Any, Any] = {}
                outcomes = [self._one(session, job, memo) for job in jobs]
        except IntegrityError as exc:  # a constraint checked at commit
            self._close()
            raise _BatchFailed(str(exc)) from exc
        except BaseException:
            self._close()  # whatever state it is in: the next batch takes a fresh one
            raise
        return outcomes

    def _connected(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def _session(self) -> Session:
        return session_factory(self._engine)(bind=self._connected())

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a dead connection: the pool discards it
                _log.debug("closing the order writer's connection failed", exc_info=True)

    def _one(self, session: Session, job: OrderJob, memo: dict[Any, Any]) -> _Outcome:
        for attempt in (1, 2):
            try:
                # never released (COMMIT does that): one round trip fewer per order
                with savepoint(session, release=False):
                    return _Outcome(value=job.write(session, memo))
            except IntegrityError as exc:
                if attempt == 2 or not job.keyed:
                    return _Outcome(error=exc)
            except DBAPIError:
                raise  # the connection or the transaction: the whole batch
            except Exception as exc:  # the order's own answer (problem, refusal, bug)
                return _Outcome(error=exc)
        raise AssertionError("unreachable")


def _outcome_unknown(exc: BaseException) -> bool:
    """The connection was lost during the COMMIT itself (no statement of ours was running):
    the batch may have been saved. Any other failure wrote nothing."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated and exc.statement is None


def _maybe_saved(exc: BaseException) -> ApiProblem:
    return ApiProblem(
        503,
        "Order outcome unknown",
        "the connection to the store was lost while this order was being committed "
        f"({type(exc.__cause__ or exc).__name__}), so it may or may not have been saved, and "
        "without an Idempotency-Key it cannot be retried safely: look for it "
        "(GET /v1/payments) before sending it again, and send an Idempotency-Key with every "
        "order",
        {"Retry-After": "1"},
    )


def _not_saved(exc: BaseException) -> ApiProblem:
    return ApiProblem(
        503,
        "Order not saved",
        "the store could not commit this order, so nothing of it was saved "
        f"({type(exc.__cause__ or exc).__name__}); retry with the same Idempotency-Key: "
        "it creates the order once",
        {"Retry-After": "1"},
    )
