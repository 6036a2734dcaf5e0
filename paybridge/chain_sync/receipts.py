"""Receipts of a scanned range written, advanced and removed in bulk, never an ORM object each.

A scan of 2,000 blocks with every recipient watched stores thousands of receipts; through the
ORM (or Core ``insert`` with its per-row parameter processing, after a lookup of the keys already
stored) the store, not the node, set the pace. Here one driver-level ``executemany`` of
``INSERT ... ON CONFLICT DO NOTHING`` writes them (``receipt_writer``: each column's own bind
processor applied as Core would, the same text SQLite stores, the same ``Decimal`` PostgreSQL
gets);
finality moves receipts with two ``UPDATE`` statements and a reorg removes them with one
``DELETE``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from paybridge_connectors.chain.records import BlockHeader, ObservedTransfer
from sqlalchemy.orm import Session

from paybridge.chain_sync.receipt_writer import Groups, writer_for
from paybridge.store.bulk import bulk_insert
from paybridge.store.models.chain import ChainBlock, ChainReceipt


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
