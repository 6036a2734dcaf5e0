"""The driver-level INSERT of receipt rows (``receipts.insert_receipts`` builds them).

Compiled once per kind of dialect, with each column's bind processor looked up once; on SQLite
the columns a group of rows shares are written as literals, so that only 14 of 20 are bound
per row. Checked against Core's ``insert`` by tests/chain/test_chain_receipts_bulk.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import sqlalchemy as sa

from paybridge.domain.money import MAX_UINT256
from paybridge.store.db import dialect_kind, insert_for
from paybridge.store.models.chain import ChainReceipt

#: a receipt's identity: the unique constraint ``INSERT ... ON CONFLICT DO NOTHING`` relies on
KEY = ("chain_id", "tx_hash", "event_key", "direction")

#: the columns one insert writes, in this order
COLUMNS = (
    "chain_id",
    "tx_hash",
    "event_key",
    "log_index",
    "trace_address",
    "kind",
    "direction",
    "asset_symbol",
    "asset_address",
    "from_address",
    "to_address",
    "watched_address",
    "amount",
    "block_number",
    "block_hash",
    "block_timestamp",
    "state",
    "payment_request_id",
    "first_seen_at",
    "updated_at",
)


#: the columns bound per receipt row, in ``COLUMNS`` order: all but the chain, the kind, the
#: asset and the time of writing, which a group of rows has in common (``_Writer.write``)
BOUND = tuple(
    name
    for name in COLUMNS
    if name
    not in ("chain_id", "kind", "asset_symbol", "asset_address", "first_seen_at", "updated_at")
)

#: (kind, asset symbol, asset address) -> rows of ``BOUND`` values
Groups = dict[tuple[str, str, str | None], list[tuple[Any, ...]]]


def _identity(value: Any) -> Any:
    return value


class _Writer:
    """The driver-level INSERT of ``COLUMNS`` for one dialect, and its columns' processors
    (each column type's dialect implementation: what Core's ``insert`` would apply).

    Built once per kind of dialect (``writer_for``), not per range: compiling the statement
    and looking up 20 processors cost a millisecond or more each time, and a watcher opening
    a new engine (a new dialect object) would otherwise pay it again on every range."""

    def __init__(self, dialect: sa.Dialect) -> None:
        table = ChainReceipt.__table__
        insert = insert_for(dialect)(table).on_conflict_do_nothing(index_elements=KEY)
        compiled = insert.compile(dialect=dialect, column_keys=list(COLUMNS))
        if dialect.positional and tuple(compiled.positiontup or ()) != COLUMNS:
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        self.sql = str(compiled)
        values_at = self.sql.index("VALUES (")
        self.sql_head = self.sql[:values_at]
        self.sql_tail = self.sql[self.sql.index(")", values_at) + 1 :]
        if not self.sql_head.startswith("INSERT INTO "):
            raise RuntimeError(f"unexpected statement {self.sql}")
        self.sql_head_or_fail = "INSERT OR FAIL INTO " + self.sql_head.removeprefix("INSERT INTO ")
        self.positional = dialect.positional
        self.dialect_name = dialect.name
        self.process: dict[str, Callable[[Any], Any]] = {
            name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) or _identity
            for name in COLUMNS
        }
        self.block_time: Callable[[int], Any] = self._block_time()
        self.base_units: Callable[[int], Any] = self._base_units()

    def _block_time(self) -> Callable[[int], Any]:
        """A block's Unix time (whole seconds) as ``block_timestamp``'s processor stores it.

        A sparse range has as many blocks as transfers, and the processor (tz check, then
        SQLite's ``%``-format of seven fields) is most of a row's Python time there; on
        SQLite the same text is written from whole seconds: the date, hour and minute
        formatted once a minute of blocks (blocks come in time order, a few per minute), the
        seconds looked up, in a fifteenth of it. Used only where it gives exactly the
        processor's text for sample times (checked here, per writer); elsewhere, or if the
        storage format ever differs, the processor itself."""
        processor = self.process["block_timestamp"]

        def exact(seconds: int) -> Any:
            return processor(datetime.fromtimestamp(seconds, UTC))

        minutes: dict[int, str] = {}  # minute number -> "YYYY-MM-DD HH:MM:" as stored

        def formatted(seconds: int) -> Any:
            minute, second = divmod(seconds, 60)
            prefix = minutes.get(minute)
            if prefix is None:
                if len(minutes) >= _MINUTES_KEPT:  # a long-running watcher: start again
                    minutes.clear()
                prefix = minutes[minute] = time.strftime(
                    "%Y-%m-%d %H:%M:", time.gmtime(minute * 60)
                )
            return prefix + _SECONDS[second]

        samples = (0, 1, 59, 60, 86_399, 86_400, 1_700_000_000, 1_767_225_599, 4_102_444_800)
        if self.dialect_name == "sqlite" and all(exact(t) == formatted(t) for t in samples):
            return formatted
        return exact

    def _base_units(self) -> Callable[[int], Any]:
        """An amount as ``amount``'s processor stores it: on SQLite the decimal text of an int
        in uint256 range (``str``, what the processor returns for one, checked here per
        writer, without its two Python calls per row); anything else goes through the
        processor, which raises for it."""
        processor = self.process["amount"]
        samples = (0, 1, 10**6 + 7, MAX_UINT256)
        if self.dialect_name != "sqlite" or any(processor(a) != str(a) for a in samples):
            return processor

        def stored(amount: int) -> Any:
            if type(amount) is int and 0 <= amount <= MAX_UINT256:
                return str(amount)
            return processor(amount)

        return stored

    def write(self, connection: sa.Connection, chain_id: int, stamp: Any, groups: Groups) -> int:
        """Insert the rows of ``groups`` (bound values already processed, in ``BOUND`` order)
        with chain ``chain_id``, written at ``stamp`` (processed); returns how many were new
        (the driver's summed rowcount; every row when a driver does not tell)."""
        if self.dialect_name == "sqlite":
            return self._write_sqlite(connection, chain_id, stamp, groups)
        rows = [
            (chain_id, *r[:4], kind, r[4], symbol, asset, *r[5:], stamp, stamp)
            for (kind, symbol, asset), bound in groups.items()
            for r in bound
        ]
        params = rows if self.positional else [dict(zip(COLUMNS, r, strict=True)) for r in rows]
        result = connection.exec_driver_sql(self.sql, params)
        return result.rowcount if result.rowcount >= 0 else len(rows)

    def _write_sqlite(
        self, connection: sa.Connection, chain_id: int, stamp: Any, groups: Groups
    ) -> int:
        """SQLite's executemany binds and converts every parameter of every row (a fifth of
        the insert's time with all 20 columns bound): what a group of rows has in common
        (chain, kind, asset, time of writing) goes into the statement as literals, one
        statement per group (usually one: one token), the other 14 columns are bound.

        And SQLite runs a statement's whole program (opening the table and each index) per
        execution: ``ROWS_PER_STATEMENT`` rows per ``INSERT`` (one statement for many rows
        of ``VALUES``) cost a fifth less than as many executions of one row. ``OR FAIL``
        keeps that gain: a multi-row statement that may abort (a NOT NULL violation, which
        still raises) otherwise needs a statement journal to undo its earlier rows, which
        costs more than the gain; failing leaves them, as a failing executemany leaves its
        earlier rows, to the caller's transaction, which rolls back. A row whose key is
        stored, or met earlier in the statement, is still skipped (``ON CONFLICT DO
        NOTHING``); the rows left over go through the one-row statement."""
        added = 0
        process = self.process
        size = ROWS_PER_STATEMENT
        for (kind, symbol, asset), bound in groups.items():
            constant = {  # processed as any bound value would be (chain and stamp already are)
                "chain_id": chain_id,
                "kind": process["kind"](kind),
                "asset_symbol": process["asset_symbol"](symbol),
                "asset_address": process["asset_address"](asset),
                "first_seen_at": stamp,
                "updated_at": stamp,
            }
            values = ", ".join(
                _sqlite_literal(constant[name]) if name in constant else "?" for name in COLUMNS
            )
            whole = len(bound) - len(bound) % size
            if whole:
                rows = ", ".join([f"({values})"] * size)
                statement = f"{self.sql_head_or_fail}VALUES {rows}{self.sql_tail}"
                flat = chain.from_iterable
                params = [tuple(flat(bound[i : i + size])) for i in range(0, whole, size)]
                result = connection.exec_driver_sql(statement, params)
                added += result.rowcount if result.rowcount >= 0 else whole
            if whole < len(bound):
                statement = f"{self.sql_head}VALUES ({values}){self.sql_tail}"
                result = connection.exec_driver_sql(statement, bound[whole:])
                added += result.rowcount if result.rowcount >= 0 else len(bound) - whole
        return added


#: rows of one multi-row INSERT on SQLite: 448 bound values (SQLite before 3.32 binds at most
#: 999 a statement); 20 or more rows gain as much
ROWS_PER_STATEMENT = 32

#: the seconds of a stored time, "00.000000" to "59.000000"
_SECONDS = tuple(f"{second:02d}.000000" for second in range(60))
#: minutes of formatted block times kept (a day's worth)
_MINUTES_KEPT = 1440


_WRITERS: dict[tuple[Any, ...], _Writer] = {}


def writer_for(dialect: sa.Dialect) -> _Writer:
    """The receipt writer of this kind of dialect: its class, parameter style and server
    version decide the statement's text and the processors, so engines alike share one."""
    key = dialect_kind(dialect)
    writer = _WRITERS.get(key)
    if writer is None:
        writer = _WRITERS[key] = _Writer(dialect)
    return writer


def _sqlite_literal(value: Any) -> str:
    """``value`` as an SQLite literal: NULL, a decimal integer, or a quoted string."""
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQLite literal for {type(value).__name__}")
