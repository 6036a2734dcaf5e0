"""Many rows into one table with one driver-level ``executemany``, values processed as Core's
``insert`` would process them.

Why: creating thousands of payment requests (and their audit entries) a second, Core's
executemany spent more per row than SQLite itself: it builds each row's parameters again
through the compiled statement, calling every column's bind processor on every value. Here the
statement is compiled once per kind of dialect, a column's processor is looked up once, and a
value object shared by many rows (the batch's time, rate, expiry) is processed once per call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.db import after_rollback, before_commit, dialect_kind, insert_for

Processor = Callable[[Any], Any]


class BulkInsert:
    """``INSERT`` of all ``columns`` of ``table`` (``ON CONFLICT (conflict) DO NOTHING`` when
    ``conflict`` names the unique columns; ``DO UPDATE SET`` the ``update`` columns to the
    new row's values instead when ``update`` names any) for one kind of dialect."""

    def __init__(
        self,
        table: sa.Table,
        dialect: sa.Dialect,
        columns: Sequence[str],
        conflict: Sequence[str] | None = None,
        update: Sequence[str] = (),
    ) -> None:
        if conflict is None:
            insert: Any = sa.insert(table)
        else:
            insert = insert_for(dialect)(table)
            if update:
                insert = insert.on_conflict_do_update(
                    index_elements=list(conflict),
                    set_={name: insert.excluded[name] for name in update},
                )
            else:
                insert = insert.on_conflict_do_nothing(index_elements=list(conflict))
        self.columns = tuple(columns)
        compiled = insert.compile(dialect=dialect, column_keys=list(self.columns))
        if dialect.positional and tuple(compiled.positiontup or ()) != self.columns:
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        self.sql = str(compiled)
        self.positional = dialect.positional
        #: (position, processor) of the columns whose type processes a value before binding
        self.processed: list[tuple[int, Processor]] = []
        for position, name in enumerate(self.columns):
            processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processed.append((position, processor))

    def execute(self, connection: sa.Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Insert ``rows`` (values in ``columns`` order, unprocessed); returns the driver's
        rowcount (summed over the rows where the driver does; -1 where it does not tell).

        A value is processed once per object per call (memo by identity, the rows keeping
        every object alive meanwhile): never by equality, as ``Decimal("1.0")`` and
        ``Decimal("1.00")`` are equal yet stored as different text."""
        processed = self.processed
        memos: list[dict[int, Any]] = [{} for _ in processed]
        params: list[Any] = []
        append = params.append
        for row in rows:
            values = list(row)
            for (position, processor), memo in zip(processed, memos, strict=True):
                value = values[position]
                if value is None:
                    continue
                key = id(value)
                done = memo.get(key, _MISSING)
                if done is _MISSING:
                    done = memo[key] = processor(value)
                values[position] = done
            append(
                tuple(values) if self.positional else dict(zip(self.columns, values, strict=True))
            )
        return connection.exec_driver_sql(self.sql, params).rowcount


_MISSING = object()
_CACHE: dict[tuple[Any, ...], BulkInsert] = {}


def bulk_insert(
    table: sa.Table,
    dialect: sa.Dialect,
    columns: Sequence[str],
    conflict: Sequence[str] | None = None,
    update: Sequence[str] = (),
) -> BulkInsert:
    """The ``BulkInsert`` for this table, columns and kind of dialect (its class, parameter
    style and server version decide the statement's text and the processors), built once."""
    key = (
        table,
        tuple(columns),
        None if conflict is None else tuple(conflict),
        tuple(update),
        *dialect_kind(dialect),
    )
    insert = _CACHE.get(key)
    if insert is None:
        insert = _CACHE[key] = BulkInsert(table, dialect, columns, conflict, update)
    return insert


def insert_at_commit(
    session: Session, table: sa.Table, columns: Sequence[str], row: Sequence[Any]
) -> None:
    """Insert ``row`` (values in ``columns`` order) just before the session's transaction
    commits, with every other row deferred so: one ``executemany`` per table and columns, in
    the order first deferred (a referenced table's rows first, if deferred first).

    Why: the API's order writer commits a batch of orders at once; each order's payment
    request and order rows then cost one statement per batch instead of one round trip each
    while the batch is being written. Only for rows nothing reads back from the database
    before the commit (the caller keeps the objects it needs in the session), and that cannot
    conflict (new ids): a failing insert fails the commit, which writes nothing."""
    pending = session.info.get(_DEFERRED)
    if pending is None:
        pending = session.info[_DEFERRED] = []
        before_commit(session, _insert_deferred)
        after_rollback(session, _drop_deferred)
    pending.append((table, tuple(columns), row))


_DEFERRED = "paybridge_insert_at_commit"


def _insert_deferred(session: Session) -> None:
    groups: dict[tuple[sa.Table, tuple[str, ...]], list[Sequence[Any]]] = {}
    for table, columns, row in session.info.pop(_DEFERRED, []):
        groups.setdefault((table, columns), []).append(row)
    connection = session.connection()
    for (table, columns), rows in groups.items():
        bulk_insert(table, connection.dialect, columns).execute(connection, rows)


def _drop_deferred(session: Session) -> None:
    session.info.pop(_DEFERRED, None)
