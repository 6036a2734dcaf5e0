"""Turn invoices into payment requests: quote, deposit address, EIP-681 link, audit entry.

Batched (one counter lock, one insert, one audit append per batch) and idempotent: the same
invoice always maps to the same request, even when several workers create it at once, and a
worker that loses that race burns no derivation index (see ``allocation``). API orders, always
new invoices, take their index from the process's reserved block instead (``index_pool``) and
append their audit entries at commit, so concurrent orders do not queue on the counter's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached

from paybridge import audit
from paybridge.addresses import WatchOnlyWallet
from paybridge.config import PayBridgeConfig
from paybridge.invoices import InvoiceRecord, rows_by_invoice_key
from paybridge.requests.allocation import commit_indexes, lock_next_index, peek_next_index
from paybridge.requests.building import (
    RateSourceForChain,
    build_requests,
    created_event,
)
from paybridge.requests.index_pool import IndexPool
from paybridge.store.bulk import bulk_insert
from paybridge.store.bulk import insert_at_commit as defer_insert
from paybridge.store.db import after_rollback, dialect_insert
from paybridge.store.models import PaymentRequest


@dataclass(frozen=True)
class CreatedRequest:
    request: PaymentRequest
    created: bool  # False: the invoice already had a request, returned unchanged


def create_payment_requests(
    session: Session,
    invoices: Sequence[InvoiceRecord],
    *,
    config: PayBridgeConfig,
    rates_for_chain: RateSourceForChain,
    wallet: WatchOnlyWallet,
    actor: str,
    now: datetime | None = None,
    index_pool: IndexPool | None = None,
    request_ids: Sequence[str] | None = None,
    insert_at_commit: bool = False,
) -> list[CreatedRequest]:
    """Create (or return the existing) request for each invoice, in input order.

    Runs inside the caller's transaction: on any error nothing of the batch is written.
    ``index_pool``: take indexes from the process's reserved block instead of locking the
    counter until commit; only for invoices nobody else can be creating (API orders).
    ``request_ids``: the new requests' ids, one per invoice (API orders record theirs before
    creating it); new ones by default. ``insert_at_commit`` (with ``index_pool``): the new
    rows are written just before the commit, with every other row so deferred
    (``store.bulk.insert_at_commit``: the API's order batches), not now; only for invoices
    that cannot exist yet (an API order's new order id).
    """
    if request_ids is not None and len(request_ids) != len(invoices):
        raise ValueError(f"{len(request_ids)} request ids for {len(invoices)} invoices")
    ids = dict(zip((inv.key for inv in invoices), request_ids or (), strict=False))
    if index_pool is not None:
        return _create_from_pool(
            session,
            invoices,
            config,
            rates_for_chain,
            wallet,
            actor,
            now,
            index_pool,
            ids,
            insert_at_commit,
        )
    when = now or datetime.now(UTC)
    seen = peek_next_index(session, wallet.fingerprint)  # before reading the requests
    existing = rows_by_invoice_key(session, PaymentRequest, [inv.key for inv in invoices])
    todo = [inv for inv in dict.fromkeys(invoices) if inv.key not in existing]
    created: dict[tuple[str, str, str], PaymentRequest] = {}
    start = 0
    if todo:
        # Lock the counter. If it moved since we looked, another creator committed requests
        # meanwhile: look again, so that their invoices are not given a second index.
        start = lock_next_index(session, wallet.fingerprint)
        if start != seen:
            keys = [inv.key for inv in todo]
            existing.update(rows_by_invoice_key(session, PaymentRequest, keys))
            todo = [inv for inv in todo if inv.key not in existing]
    while todo:
        indexes = list(range(start, start + len(todo)))
        rows = build_requests(todo, indexes, wallet, config, rates_for_chain, when, ids)
        created = _insert_new(session, rows)
        if len(created) == len(rows):
            break
        # Rare: a creator holding another counter (a different xpub) inserted some of these
        # invoices meanwhile. Take back what we inserted and renumber the rest without holes.
        _delete(session, created.values())
        taken = {_key(r) for r in rows} - set(created)
        existing.update(rows_by_invoice_key(session, PaymentRequest, list(taken)))
        todo = [inv for inv in todo if inv.key not in taken]
        created = {}
    if created:
        commit_indexes(session, wallet.fingerprint, start + len(created))
        _record(session, created.values(), actor, when)
    return _in_order(invoices, created, existing)


def _create_from_pool(
    session: Session,
    invoices: Sequence[InvoiceRecord],
    config: PayBridgeConfig,
    rates_for_chain: RateSourceForChain,
    wallet: WatchOnlyWallet,
    actor: str,
    now: datetime | None,
    pool: IndexPool,
    ids: dict[tuple[str, str, str], str],
    deferred: bool = False,
) -> list[CreatedRequest]:
    """The same requests on indexes from ``pool``; indexes not kept go back to it (at once
    when an invoice already had a request, on rollback when the transaction fails)."""
    when = now or datetime.now(UTC)
    # no read first: these invoices are almost always new (API orders), and the insert's
    # ON CONFLICT DO NOTHING finds the rare existing one, whose index then goes back
    existing: dict[tuple[str, str, str], PaymentRequest] = {}
    todo = list(dict.fromkeys(invoices))
    indexes = pool.take(wallet.fingerprint, len(todo))
    after_rollback(session, lambda _session: pool.give_back(wallet.fingerprint, indexes))
    rows = build_requests(todo, indexes, wallet, config, rates_for_chain, when, ids)
    if deferred:
        for row in rows:
            defer_insert(
                session,
                _REQUESTS,
                _REQUEST_COLUMNS,
                [row.__dict__.get(c) for c in _REQUEST_COLUMNS],
            )
        created = {_key(r): r for r in rows}
    else:
        created = _insert_new(session, rows)
    unused = [r for r in rows if created.get(_key(r)) is not r]
    if unused:  # inserted meanwhile by someone else: theirs stands, our indexes go back
        kept = {r.derivation_index for r in created.values()}
        indexes[:] = sorted(kept)
        pool.give_back(wallet.fingerprint, [r.derivation_index for r in unused])
        taken = [_key(r) for r in unused]
        existing.update(rows_by_invoice_key(session, PaymentRequest, taken))
    if created:  # audited at commit: the chain's head stays locked for the commit only
        _record(session, created.values(), actor, when, audit.append_at_commit)
    return _in_order(invoices, created, existing)


def _record(
    session: Session,
    created: Iterable[PaymentRequest],
    actor: str,
    when: datetime,
    append: Callable[..., Any] = audit.append,
) -> None:
    """Attach the inserted rows and write their audit entries (and webhook events)."""
    rows = list(created)
    written: dict[int, str] = {}  # a datetime object (a batch shares a few) -> isoformat
    events = [created_event(request.__dict__, actor, written) for request in rows]
    _attach(session, rows)
    append(session, events, when)


def _in_order(
    invoices: Sequence[InvoiceRecord],
    created: dict[tuple[str, str, str], PaymentRequest],
    existing: dict[tuple[str, str, str], PaymentRequest],
) -> list[CreatedRequest]:
    return [
        CreatedRequest(created[inv.key], True)
        if inv.key in created
        else CreatedRequest(existing[inv.key], False)
        for inv in invoices
    ]


def _insert_new(
    session: Session, requests: list[PaymentRequest]
) -> dict[tuple[str, str, str], PaymentRequest]:
    """Insert, skipping invoices someone else created meanwhile; returns what we inserted."""
    table = PaymentRequest.__table__
    columns = _REQUEST_COLUMNS
    connection = session.connection()
    if len(requests) == 1:  # an API order: RETURNING says at once whether it went in
        values = {col: requests[0].__dict__.get(col) for col in columns}  # an unsaved row
        statement = dialect_insert(session)(table).on_conflict_do_nothing(index_elements=_INVOICE)
        went_in = connection.execute(statement.returning(table.c.id), values).first()
        return {_key(r): r for r in requests} if went_in else {}
    # one driver-level executemany without RETURNING (``store.bulk``): psycopg runs it as one
    # prepared statement in a pipeline, whereas with RETURNING SQLAlchemy renders one
    # multi-row VALUES statement per batch that psycopg parses again each time
    insert = bulk_insert(table, connection.dialect, columns, _INVOICE)
    rowcount = insert.execute(connection, [[r.__dict__.get(c) for c in columns] for r in requests])
    if connection.dialect.supports_sane_multi_rowcount and rowcount == len(requests):
        inserted = requests  # SQLite, the usual case: every row went in
    else:  # some invoices taken meanwhile, or a count the driver does not give (psycopg: -1):
        # our ids are new, so those present are the ones we inserted
        ids = [r.id for r in requests]
        present: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            present.update(session.scalars(sa.select(table.c.id).where(table.c.id.in_(chunk))))
        inserted = [r for r in requests if r.id in present]
    return {_key(r): r for r in inserted}


_REQUESTS = PaymentRequest.__table__
_REQUEST_COLUMNS = tuple(column.key for column in _REQUESTS.columns)
_INVOICE = ("erp_system", "company", "invoice_id")


def _delete(session: Session, requests: Iterable[PaymentRequest]) -> None:
    ids = [r.id for r in requests]
    if ids:
        session.execute(sa.delete(PaymentRequest).where(PaymentRequest.id.in_(ids)))


def _attach(session: Session, requests: Iterable[PaymentRequest]) -> None:
    """Attach inserted rows as persistent without re-reading them."""
    for request in requests:
        make_transient_to_detached(request)
        session.add(request)


def _key(request: PaymentRequest) -> tuple[str, str, str]:
    return (request.erp_system, request.company, request.invoice_id)
