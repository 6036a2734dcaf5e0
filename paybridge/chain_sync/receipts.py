"""Receipts of a scanned range written, advanced and removed in bulk, never an ORM object each.

A scan of 2,000 blocks with every recipient watched stores thousands of receipts; through the
ORM (or Core ``insert`` with its per-row parameter processing, after a lookup of the keys already
stored) the store, not the node, set the pace. Here one driver-level ``executemany`` of
``INSERT ... ON CONFLICT DO NOTHING`` writes them (``receipt_writer``: each column's own bind
processor applied as Core would, the same text SQLite stores, the same ``Decimal`` PostgreSQL
gets);
finality moves receipts with two ``UPDATE`` statements and a reorg removes them with one
``DELETE``, each prepared once per process (``store.prepared``), not compiled per engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from paybridge_connectors.chain.records import BlockHeader, ObservedTransfer
from sqlalchemy.orm import Session

from paybridge.chain_sync.receipt_writer import Groups, writer_for
from paybridge.store.bulk import bulk_insert
from paybridge.store.db import connection_of
from paybridge.store.models.chain import ChainBlock, ChainReceipt
from paybridge.store.prepared import run


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
    session: Session | sa.Connection,
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
    connection = connection_of(session)
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


def store_headers(
    session: Session | sa.Connection, chain_id: int, headers: Iterable[BlockHeader]
) -> None:
    """Keep (number, hash, parent hash, time) of scanned blocks: one upsert executemany for all
    (a block stored earlier, at the edge of the previous range, is overwritten), its statement
    compiled once per kind of dialect (``store.bulk``)."""
    rows = [(chain_id, h.number, h.hash.lower(), h.parent_hash.lower(), h.time) for h in headers]
    if not rows:
        return
    connection = connection_of(session)
    upsert = bulk_insert(
        ChainBlock.__table__,
        connection.dialect,
        _HEADER_COLUMNS,
        conflict=("chain_id", "number"),
        update=("hash", "parent_hash", "timestamp"),
    )
    upsert.execute(connection, rows)


_HEADER_COLUMNS = ("chain_id", "number", "hash", "parent_hash", "timestamp")


_RECEIPTS = ChainReceipt.__table__


def _to_final(*, bounded: bool) -> sa.ColumnElement[bool]:
    """Receipts of a chain at or below ``final_to`` not finalized yet (``bounded``: and above
    ``before``)."""
    c = _RECEIPTS.c
    condition = sa.and_(
        c.chain_id == sa.bindparam("chain_id"),
        c.block_number <= sa.bindparam("final_to"),
        c.state != "finalized",
    )
    return sa.and_(condition, c.block_number > sa.bindparam("before")) if bounded else condition


def _to_confirmed() -> sa.ColumnElement[bool]:
    c = _RECEIPTS.c
    return sa.and_(
        c.chain_id == sa.bindparam("chain_id"),
        c.block_number <= sa.bindparam("safe_to"),
        c.block_number > sa.bindparam("finalized"),
        c.state == "detected",
    )


def _orphaned() -> sa.ColumnElement[bool]:
    c = _RECEIPTS.c
    return sa.and_(
        c.chain_id == sa.bindparam("chain_id"), c.block_number > sa.bindparam("ancestor")
    )


def _requests_where(condition: sa.ColumnElement[bool]) -> sa.Select[tuple[str | None]]:
    c = _RECEIPTS.c
    return (
        sa.select(c.payment_request_id)
        .where(condition, c.payment_request_id.is_not(None))
        .distinct()
    )


def _set_state(condition: sa.ColumnElement[bool]) -> sa.Update:
    return (
        sa.update(_RECEIPTS)
        .where(condition)
        .values(state=sa.bindparam("new_state"), updated_at=sa.bindparam("new_updated_at"))
    )


# the statements, each a function: ``store.prepared`` compiles each once per kind of dialect
def _advancing_requests() -> sa.Select[tuple[str | None]]:
    return _requests_where(sa.or_(_to_final(bounded=False), _to_confirmed()))


def _advancing_requests_bounded() -> sa.Select[tuple[str | None]]:
    return _requests_where(sa.or_(_to_final(bounded=True), _to_confirmed()))


def _finalize() -> sa.Update:
    return _set_state(_to_final(bounded=False))


def _finalize_bounded() -> sa.Update:
    return _set_state(_to_final(bounded=True))


def _confirm() -> sa.Update:
    return _set_state(_to_confirmed())


def _orphaned_requests() -> sa.Select[tuple[str | None]]:
    return _requests_where(_orphaned())


def _delete_orphaned() -> sa.Delete:
    return sa.delete(_RECEIPTS).where(_orphaned())


def advance_states(
    session: Session | sa.Connection,
    chain_id: int,
    finalized: int,
    safe: int,
    now: datetime,
    *,
    finalized_before: int | None = None,
    written_from: int | None = None,
    want_touched: bool = True,
) -> tuple[int, set[str]]:
    """Receipts at or below ``finalized`` become finalized, detected ones at or below ``safe``
    confirmed: two UPDATEs. Returns (receipts changed, request ids touched; empty unless
    ``want_touched``).

    ``finalized_before``, the cursor's finalized block before this step, bounds the first
    UPDATE from below: every receipt at or below it is finalized already (receipts are only
    ever written above the cursor's finalized block, with the state of the view they were
    scanned under, and this step finalizes everything up to the new one), so a poll reads the
    receipts of the blocks finality just reached, not every receipt the chain ever had.

    ``written_from`` bounds both from above: the receipts at or above it were written by the
    caller under the same finality (a poll's ranges, stored with this view's states, in
    this transaction or an earlier one of the same poll), so they are in their state
    already; a catch-up poll does not read back the thousands it just wrote. An UPDATE that
    can match nothing is not run."""
    connection = connection_of(session)
    final_to, safe_to = finalized, safe
    if written_from is not None:
        final_to, safe_to = min(finalized, written_from - 1), min(safe, written_from - 1)
    finalizing = final_to >= 0 and (finalized_before is None or final_to > finalized_before)
    confirming = safe_to > finalized
    if not (finalizing or confirming):
        return 0, set()
    bounds = {"chain_id": chain_id, "final_to": final_to}
    if finalized_before is None:
        requests, finalize = _advancing_requests, _finalize
    else:
        requests, finalize = _advancing_requests_bounded, _finalize_bounded
        bounds["before"] = finalized_before
    touched: set[str] = set()
    if want_touched:
        touched = set(
            run(connection, requests, **bounds, finalized=finalized, safe_to=safe_to).scalars()
        )
    stamp = {"new_updated_at": now}
    changed = 0
    if finalizing:
        result = run(connection, finalize, **bounds, new_state="finalized", **stamp)
        changed += result.rowcount or 0
    if confirming:
        result = run(
            connection,
            _confirm,
            chain_id=chain_id,
            finalized=finalized,
            safe_to=safe_to,
            new_state="confirmed",
            **stamp,
        )
        changed += result.rowcount or 0
    return changed, touched


def delete_above(
    session: Session | sa.Connection, chain_id: int, ancestor: int
) -> tuple[int, set[str]]:
    """Remove the receipts of orphaned blocks (above ``ancestor``) in one DELETE."""
    connection = connection_of(session)
    touched = set(
        run(connection, _orphaned_requests, chain_id=chain_id, ancestor=ancestor).scalars()
    )
    result = run(connection, _delete_orphaned, chain_id=chain_id, ancestor=ancestor)
    return result.rowcount or 0, touched
