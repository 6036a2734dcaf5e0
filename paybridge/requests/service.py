"""Turn invoices into payment requests: quote, deposit address, EIP-681 link, audit entry.

Batched (one counter lock, one insert, one audit append per batch) and idempotent: the same
invoice always maps to the same request, even when several workers create it at once, and a
worker that loses that race burns no derivation index (see ``allocation``). API orders, always
new invoices, take their index from the process's reserved block instead (``index_pool``) and
append their audit entries at commit, so concurrent orders do not queue on the counter's lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from paybridge_connectors.rates.base import Rate, RateSource
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached

from paybridge import audit
from paybridge.addresses import WatchOnlyWallet
from paybridge.config import PayBridgeConfig
from paybridge.eip681 import erc20_transfer_uri, native_payment_uri
from paybridge.invoices import InvoiceRecord, rows_by_invoice_key
from paybridge.requests.allocation import commit_indexes, lock_next_index, peek_next_index
from paybridge.requests.index_pool import IndexPool
from paybridge.requests.lifecycle import Status, snapshot
from paybridge.requests.quotes import make_quote
from paybridge.store.db import after_rollback, dialect_insert
from paybridge.store.models import PaymentRequest

RateSourceForChain = Callable[[str], RateSource]
M = TypeVar("M")


@dataclass(frozen=True)
class CreatedRequest:
    request: PaymentRequest
    created: bool  # False: the invoice already had a request, returned unchanged


def new_request_id() -> str:
    return f"pr_{uuid.uuid4().hex[:24]}"


def payment_uri(request: PaymentRequest) -> str:
    if request.asset_address is None:
        uri = native_payment_uri(request.deposit_address, request.chain_id, request.amount_due)
    else:
        uri = erc20_transfer_uri(
            request.asset_address, request.chain_id, request.deposit_address, request.amount_due
        )
    return uri.to_uri()


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
) -> list[CreatedRequest]:
    """Create (or return the existing) request for each invoice, in input order.

    Runs inside the caller's transaction: on any error nothing of the batch is written.
    ``index_pool``: take indexes from the process's reserved block instead of locking the
    counter until commit; only for invoices nobody else can be creating (API orders).
    ``request_ids``: the new requests' ids, one per invoice (API orders record theirs before
    creating it); new ones by default.
    """
    if request_ids is not None and len(request_ids) != len(invoices):
        raise ValueError(f"{len(request_ids)} request ids for {len(invoices)} invoices")
    ids = dict(zip((inv.key for inv in invoices), request_ids or (), strict=False))
    if index_pool is not None:
        return _create_from_pool(
            session, invoices, config, rates_for_chain, wallet, actor, now, index_pool, ids
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
        rows = _build_requests(todo, indexes, wallet, config, rates_for_chain, when, ids)
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
    rows = _build_requests(todo, indexes, wallet, config, rates_for_chain, when, ids)
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
    _attach(session, rows)
    append(
        session,
        [
            audit.AuditEvent(
                actor=actor,
                entity_type="payment_request",
                entity_id=request.id,
                action="create",
                after={**snapshot(request), **_quote_evidence(request)},
                reason=f"invoice {request.erp_system}/{request.company}/{request.invoice_id}",
            )
            for request in rows
        ],
        when,
    )


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


def _build_requests(
    invoices: Sequence[InvoiceRecord],
    indexes: Sequence[int],
    wallet: WatchOnlyWallet,
    config: PayBridgeConfig,
    rates_for_chain: RateSourceForChain,
    when: datetime,
    ids: dict[tuple[str, str, str], str] | None = None,
) -> list[PaymentRequest]:
    """One request per invoice, on the given indexes (consecutive ones derived in one go)."""
    start = indexes[0]
    if list(indexes) == list(range(start, start + len(indexes))):
        addresses = wallet.addresses(start, len(invoices))
    else:
        addresses = [wallet.address(index) for index in indexes]
    rates: dict[tuple[str, str, str], Rate] = {}
    ids = ids or {}
    return [
        _build_request(
            inv, address, index, wallet, config, rates, rates_for_chain, when, ids.get(inv.key)
        )
        for inv, address, index in zip(invoices, addresses, indexes, strict=True)
    ]


def _build_request(
    invoice: InvoiceRecord,
    address: str,
    index: int,
    wallet: WatchOnlyWallet,
    config: PayBridgeConfig,
    rates: dict[tuple[str, str, str], Rate],
    rates_for_chain: RateSourceForChain,
    when: datetime,
    request_id: str | None = None,
) -> PaymentRequest:
    chain = config.chain(invoice.chain)
    asset = config.asset(chain.name, invoice.asset_symbol)
    pair = (chain.name, asset.symbol, invoice.currency)
    if pair not in rates:  # one locked rate per asset and currency for the whole batch
        rates[pair] = rates_for_chain(chain.name).get_rate(asset.symbol, invoice.currency)
    quote = make_quote(invoice.amount, invoice.currency, asset, rates[pair], when, config.quotes)
    request = unsaved_row(
        PaymentRequest,
        id=request_id or new_request_id(),
        erp_system=invoice.erp_system,
        company=invoice.company,
        invoice_id=invoice.invoice_id,
        customer_id=invoice.customer_id,
        invoice_amount=invoice.amount,
        currency=invoice.currency,
        due_date=invoice.due_date,
        chain_id=chain.chain_id,
        asset_symbol=asset.symbol,
        asset_address=asset.address,
        asset_decimals=asset.decimals,
        xpub_fingerprint=wallet.fingerprint,
        derivation_index=index,
        deposit_address=address,
        amount_due=quote.amount_due,
        rate_price=quote.rate.price,
        rate_source=describe_source(quote.rate),
        rate_as_of=quote.rate.as_of,
        rate_round_id=None if quote.rate.round_id is None else str(quote.rate.round_id),
        quote_expires_at=quote.expires_at,
        monitor_until=quote.monitor_until,
        status=Status.NEW.value,
        paid_partial=False,
        paid_over=False,
        paid_late=False,
        marked=False,
        amount_received=0,
        amount_confirmed=0,
        created_at=when,
        updated_at=when,
    )
    request.payment_uri = payment_uri(request)
    return request


def unsaved_row(model: type[M], **values: Any) -> M:
    """A ``model`` instance holding ``values``, built without the ORM's change tracking (for a
    request about 30 instrumented attribute sets, a sixth of the time of creating it): the row
    is inserted with Core (``_insert_new``) and then attached as persistent (``_attach``), which
    treats the values as loaded from the database, as the constructor's values would be."""
    if not model.__mapper__.configured:  # type: ignore[attr-defined]
        configure_mappers()  # a fresh process may not have queried yet (not free once done)
    row: M = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    row.__dict__.update(values)
    return row


def describe_source(rate: Rate) -> str:
    if rate.feed_address and rate.feed_address not in rate.source:
        return f"{rate.source}:{rate.feed_address}"
    return rate.source


def _quote_evidence(request: PaymentRequest) -> dict[str, str]:
    return {
        "deposit_address": request.deposit_address,
        "derivation_index": str(request.derivation_index),
        "amount_due": str(request.amount_due),
        "asset": f"{request.asset_symbol}@{request.chain_id}",
        "rate": f"{request.rate_price} {request.currency}/{request.asset_symbol}",
        "rate_source": request.rate_source,
        "rate_as_of": request.rate_as_of.isoformat(),
        "quote_expires_at": request.quote_expires_at.isoformat(),
    }


def _insert_new(
    session: Session, requests: list[PaymentRequest]
) -> dict[tuple[str, str, str], PaymentRequest]:
    """Insert, skipping invoices someone else created meanwhile; returns what we inserted."""
    table = PaymentRequest.__table__
    columns = [column.key for column in table.columns]
    values = [{col: r.__dict__.get(col) for col in columns} for r in requests]  # unsaved rows
    # Core executemany without RETURNING: psycopg runs it as one prepared statement in a
    # pipeline, whereas with RETURNING SQLAlchemy renders one multi-row VALUES statement per
    # batch that psycopg parses again each time (a third of the time on PostgreSQL)
    statement = dialect_insert(session)(table).on_conflict_do_nothing(
        index_elements=["erp_system", "company", "invoice_id"]
    )
    connection = session.connection()
    if len(values) == 1:  # an API order: RETURNING says at once whether it went in
        went_in = connection.execute(statement.returning(table.c.id), values[0]).first()
        return {_key(r): r for r in requests} if went_in else {}
    result = connection.execute(statement, values)
    if connection.dialect.supports_sane_multi_rowcount and result.rowcount == len(values):
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
