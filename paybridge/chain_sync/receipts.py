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
from paybridge.store.db import dialect_insert
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
    (each column type's dialect implementation: what Core's ``insert`` would apply)."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        dialect = connection.dialect
        table = ChainReceipt.__table__
        insert = dialect_insert(session)(table).on_conflict_do_nothing(index_elements=KEY)
        compiled = insert.compile(dialect=dialect, column_keys=list(COLUMNS))
        if dialect.positional and tuple(compiled.positiontup or ()) != COLUMNS:
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        self.connection = connection
        self.sql = str(compiled)
        self.positional = dialect.positional
        self.dialect_name = dialect.name
        self.process: dict[str, Callable[[Any], Any]] = {
            name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) or _identity
            for name in COLUMNS
        }

    def block_time(self) -> Callable[[int], Any]:
        """A block's Unix time (whole seconds) as ``block_timestamp``'s processor stores it.

        A sparse range has as many blocks as transfers, and the processor (tz check, then
        SQLite's ``%``-format of seven fields) is most of a row's Python time there; on
        SQLite ``time.strftime`` writes the same text from whole seconds in a third of it. Used
        only where it gives exactly the processor's text for sample times (checked here, per
        writer); elsewhere, or if the storage format ever differs, the processor itself."""
        processor = self.process["block_timestamp"]

        def exact(seconds: int) -> Any:
            return processor(datetime.fromtimestamp(seconds, UTC))

        def formatted(seconds: int) -> Any:
            return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(seconds))

        samples = (0, 1_700_000_000, 1_767_225_599, 4_102_444_800)
        if self.dialect_name == "sqlite" and all(exact(t) == formatted(t) for t in samples):
            return formatted
        return exact

    def base_units(self) -> Callable[[int], Any]:
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

    def write(self, rows: list[tuple[Any, ...]]) -> int:
        """``rows`` hold values already processed, in ``COLUMNS`` order; returns how many were
        new (the driver's summed rowcount; every row when a driver does not tell)."""
        params = rows if self.positional else [dict(zip(COLUMNS, r, strict=True)) for r in rows]
        result = self.connection.exec_driver_sql(self.sql, params)
        return result.rowcount if result.rowcount >= 0 else len(rows)


def insert_receipts(
    session: Session,
    chain_id: int,
    transfers: Iterable[ObservedTransfer],
    watched: Mapping[str, str | None],
    view: FinalityView,
    now: datetime,
) -> tuple[int, set[str]]:
    """Store a receipt per (transfer, watched side) not stored yet; returns (added, request ids
    touched). Idempotent: a key (chain, tx hash, event key, direction) already stored is skipped
    by the database (``ON CONFLICT DO NOTHING``, no lookup first), so re-scanning a range adds
    nothing; its requests are still named as touched (their status is recomputed, unchanged)."""
    transfers = list(transfers)
    if not transfers:
        return 0, set()
    existing: set[tuple[str, str, str]] = set()  # a key twice in one range is written once
    writer = _Writer(session)
    process = writer.process
    amount_of, time_of = writer.base_units(), writer.block_time()
    stamp = process["first_seen_at"](now)
    chain = process["chain_id"](chain_id)
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    touched: set[str] = set()
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
        sides = []
        if recipient in watched:
            sides.append(("in", recipient))
        if sender in watched:
            sides.append(("out", sender))
        if not sides:
            continue
        if number != block[0] or timestamp != block[1]:  # transfers come in block order
            block = (
                number,
                timestamp,
                time_of(timestamp),
                state_of(number, view),
            )
        stored = amount_of(amount)
        for direction, address in sides:
            key = (tx_hash, event_key, direction)
            if key in existing:
                continue
            existing.add(key)
            request_id = watched[address]
            append(
                (
                    chain,
                    tx_hash,
                    event_key,
                    log_index,
                    trace_address,
                    kind,
                    direction,
                    symbol,
                    asset_address,
                    sender,
                    recipient,
                    address,
                    stored,
                    number,
                    block_hash,
                    block[2],
                    block[3],
                    request_id,
                    stamp,
                    stamp,
                )
            )
            if request_id:
                touched.add(request_id)
    return (writer.write(rows) if rows else 0), touched


def store_headers(session: Session, chain_id: int, headers: Iterable[BlockHeader]) -> None:
    """Keep (number, hash, parent hash, time) of scanned blocks: one upsert statement for all
    (a block stored earlier, at the edge of the previous range, is overwritten)."""
    rows = [
        {
            "chain_id": chain_id,
            "number": h.number,
            "hash": h.hash.lower(),
            "parent_hash": h.parent_hash.lower(),
            "timestamp": h.time,
        }
        for h in headers
    ]
    if not rows:
        return
    insert = dialect_insert(session)(ChainBlock)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["chain_id", "number"],
            set_={
                "hash": insert.excluded.hash,
                "parent_hash": insert.excluded.parent_hash,
                "timestamp": insert.excluded.timestamp,
            },
        ),
        rows,
    )


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
