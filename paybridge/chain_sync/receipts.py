"""Receipts of a scanned range written, advanced and removed in bulk, never an ORM object each.

A scan of 2,000 blocks with every recipient watched stores thousands of receipts; through the
ORM (or Core ``insert`` with its per-row parameter processing, after a lookup of the keys already
stored) the store, not the node, set the pace. Here one driver-level ``executemany`` of
``INSERT ... ON CONFLICT DO NOTHING`` writes them, each column's own bind processor applied once
per distinct value (the same text SQLite stores, the same ``Decimal`` PostgreSQL gets);
finality moves receipts with two ``UPDATE`` statements and a reorg removes them with one
``DELETE``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from paybridge_connectors.chain.records import BlockHeader, ObservedTransfer
from sqlalchemy.orm import Session

from paybridge.domain.money import MAX_UINT256
from paybridge.store.bulk import bulk_insert
from paybridge.store.models.chain import ChainBlock, ChainReceipt

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


@dataclass(frozen=True)
class FinalityView:
    head: BlockHeader
    safe: int
    finalized: int


def state_of(block_number: int, view: FinalityView) -> str:
    if block_number <= view.finalized:
        return "finalized"
    if block_number <= view.safe:
        return "confirmed"
    return "detected"


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
        insert = _insert_for(dialect.name)(table).on_conflict_do_nothing(index_elements=KEY)
        compiled = insert.compile(dialect=dialect, column_keys=list(COLUMNS))
        if dialect.positional and tuple(compiled.positiontup or ()) != COLUMNS:
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        self.sql = str(compiled)
        values_at = self.sql.index("VALUES (")
        self.sql_head = self.sql[:values_at]
        self.sql_tail = self.sql[self.sql.index(")", values_at) + 1 :]
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
        SQLite the same text is written from whole seconds (the date part formatted once per
        day, hours, minutes and seconds by arithmetic) in a fifth of it. Used
        only where it gives exactly the processor's text for sample times (checked here, per
        writer); elsewhere, or if the storage format ever differs, the processor itself."""
        processor = self.process["block_timestamp"]

        def exact(seconds: int) -> Any:
            return processor(datetime.fromtimestamp(seconds, UTC))

        days: dict[int, str] = {}  # day number -> its date as stored, "YYYY-MM-DD "

        def formatted(seconds: int) -> Any:
            day, rest = divmod(seconds, 86400)  # the date formatted once a day of blocks
            prefix = days.get(day)
            if prefix is None:
                prefix = days[day] = time.strftime("%Y-%m-%d ", time.gmtime(day * 86400))
            hours, rest = divmod(rest, 3600)
            minutes, rest = divmod(rest, 60)
            return f"{prefix}{hours:02d}:{minutes:02d}:{rest:02d}.000000"

        samples = (0, 1, 86_399, 86_400, 1_700_000_000, 1_767_225_599, 4_102_444_800)
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
        statement per group (usually one: one token), the other 14 columns are bound."""
        added = 0
        process = self.process
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
            statement = f"{self.sql_head}VALUES ({values}){self.sql_tail}"
            result = connection.exec_driver_sql(statement, bound)
            added += result.rowcount if result.rowcount >= 0 else len(bound)
        return added


def _insert_for(dialect_name: str) -> Callable[..., Any]:
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


_WRITERS: dict[tuple[Any, ...], _Writer] = {}


def writer_for(dialect: sa.Dialect) -> _Writer:
    """The receipt writer of this kind of dialect: its class, parameter style and server
    version decide the statement's text and the processors, so engines alike share one."""
    key = (type(dialect), dialect.paramstyle, dialect.server_version_info)
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


def insert_receipts(
    session: Session,
    chain_id: int,
    transfers: Iterable[ObservedTransfer],
    watched: Mapping[str, str | None],
    view: FinalityView,
    now: datetime,
) -> tuple[int, set[str]]:
    """Store a receipt per (transfer, watched side) not stored yet; returns (added, request ids
    touched). Idempotent: a key (chain, tx hash, event key, direction) already stored, or met
    twice in one call, is skipped by the database (``ON CONFLICT DO NOTHING``, no lookup
    first), so re-scanning a range adds nothing; its requests are still named as touched
    (their status is recomputed, unchanged)."""
    connection = session.connection()
    writer = writer_for(connection.dialect)
    amount_of, time_of = writer.base_units, writer.block_time
    groups: Groups = {}
    touched: set[str] = set()
    asset: tuple[str, str, str | None] | None = None
    append: Callable[[tuple[Any, ...]], None] = _no_append
    block: tuple[int, int, Any, str] = (-1, -1, None, "")  # number, time -> stored time, state
    for (
        tx_hash,
        event_key,
        kind,
        symbol,
        asset_address,
        sender,
        recipient,
        amount,
        number,
        block_hash,
        timestamp,
        log_index,
        trace_address,
    ) in transfers:
        to_watched = recipient in watched
        from_watched = sender in watched
        if not (to_watched or from_watched):
            continue
        if number != block[0] or timestamp != block[1]:  # transfers come in block order
            block = (number, timestamp, time_of(timestamp), state_of(number, view))
        if asset is None or asset[0] != kind or asset[1] != symbol or asset[2] != asset_address:
            asset = (kind, symbol, asset_address)
            group = groups.get(asset)
            if group is None:
                group = groups[asset] = []
            append = group.append
        stored = amount_of(amount)
        if to_watched:
            request_id = watched[recipient]
            append(
                (
                    tx_hash,
                    event_key,
                    log_index,
                    trace_address,
                    "in",
                    sender,
                    recipient,
                    recipient,
                    stored,
                    number,
                    block_hash,
                    block[2],
                    block[3],
                    request_id,
                )
            )
            if request_id:
                touched.add(request_id)
        if from_watched:
            request_id = watched[sender]
            append(
                (
                    tx_hash,
                    event_key,
                    log_index,
                    trace_address,
                    "out",
                    sender,
                    recipient,
                    sender,
                    stored,
                    number,
                    block_hash,
                    block[2],
                    block[3],
                    request_id,
                )
            )
            if request_id:
                touched.add(request_id)
    if not groups:
        return 0, touched
    process = writer.process
    added = writer.write(
        connection, process["chain_id"](chain_id), process["first_seen_at"](now), groups
    )
    return added, touched


def _no_append(_row: tuple[Any, ...]) -> None:
    raise AssertionError("a receipt row before its group")


def store_headers(session: Session, chain_id: int, headers: Iterable[BlockHeader]) -> None:
    """Keep (number, hash, parent hash, time) of scanned blocks: one upsert executemany for all
    (a block stored earlier, at the edge of the previous range, is overwritten), its statement
    compiled once per kind of dialect (``store.bulk``)."""
    rows = [(chain_id, h.number, h.hash.lower(), h.parent_hash.lower(), h.time) for h in headers]
    if not rows:
        return
    connection = session.connection()
    upsert = bulk_insert(
        ChainBlock.__table__,
        connection.dialect,
        _HEADER_COLUMNS,
        conflict=("chain_id", "number"),
        update=("hash", "parent_hash", "timestamp"),
    )
    upsert.execute(connection, rows)


_HEADER_COLUMNS = ("chain_id", "number", "hash", "parent_hash", "timestamp")


def _requests_of(session: Session, condition: sa.ColumnElement[bool]) -> set[str]:
    return set(
        session.scalars(
            sa.select(ChainReceipt.payment_request_id)
            .where(condition, ChainReceipt.payment_request_id.is_not(None))
            .distinct()
        )
    )


def advance_states(
    session: Session,
    chain_id: int,
    finalized: int,
    safe: int,
    now: datetime,
    *,
    finalized_before: int | None = None,
    want_touched: bool = True,
) -> tuple[int, set[str]]:
    """Receipts at or below ``finalized`` become finalized, detected ones at or below ``safe``
    confirmed: two UPDATEs. Returns (receipts changed, request ids touched; empty unless
    ``want_touched``).

    ``finalized_before``, the cursor's finalized block before this step, bounds the first
    UPDATE from below: every receipt at or below it is finalized already (receipts are only
    ever written above the cursor's finalized block, with the state of the view they were
    scanned under, and this step finalizes everything up to the new one), so a poll reads the
    receipts of the blocks finality just reached, not every receipt the chain ever had."""
    to_final = sa.and_(
        ChainReceipt.chain_id == chain_id,
        ChainReceipt.block_number <= finalized,
        ChainReceipt.state != "finalized",
    )
    if finalized_before is not None:
        to_final = sa.and_(to_final, ChainReceipt.block_number > finalized_before)
    to_confirmed = sa.and_(
        ChainReceipt.chain_id == chain_id,
        ChainReceipt.block_number <= safe,
        ChainReceipt.block_number > finalized,
        ChainReceipt.state == "detected",
    )
    touched = _requests_of(session, sa.or_(to_final, to_confirmed)) if want_touched else set()
    changed = 0
    for condition, state in ((to_final, "finalized"), (to_confirmed, "confirmed")):
        result = session.execute(
            sa.update(ChainReceipt)
            .where(condition)
            .values(state=state, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        changed += result.rowcount or 0
    return changed, touched


def delete_above(session: Session, chain_id: int, ancestor: int) -> tuple[int, set[str]]:
    """Remove the receipts of orphaned blocks (above ``ancestor``) in one DELETE."""
    orphaned = sa.and_(ChainReceipt.chain_id == chain_id, ChainReceipt.block_number > ancestor)
    touched = _requests_of(session, orphaned)
    result = session.execute(
        sa.delete(ChainReceipt).where(orphaned).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0, touched


def watched_map(
    loaded: Mapping[str, str], extra: Collection[str], base: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    """Monitored deposit addresses (-> request id) over the extra addresses (-> None): a request's
    id wins. ``base``, the extra addresses made a dict once, saves rebuilding it per range."""
    if base is None:
        base = dict.fromkeys(extra)
    if not loaded:
        return base  # read only by the caller: no copy of a large set per range
    merged = dict(base)
    merged.update(loaded)
    return merged
