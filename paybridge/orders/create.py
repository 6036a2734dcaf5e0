"""create-order: the body becomes a payment request through the same core as ERP invoices.

The order is an invoice of the pseudo-ERP ``api`` (company = the API key, invoice id = a new
order id), so quoting, address derivation (with its refusal of public test keys on real
chains), audit and chain watching are the ones every request gets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from paybridge_connectors.rates.base import Rate, RateSource, RateUnavailable
from sqlalchemy.orm import Session, make_transient_to_detached

from paybridge import webhook_outbox
from paybridge.access.api_keys import Caller
from paybridge.config import AssetConfig, ChainConfig, ConfigError, PayBridgeConfig
from paybridge.config.merchant_keys import merchant_wallet
from paybridge.invoices import InvoiceRecord
from paybridge.orders.body import NETWORK_ALIASES, CreateOrder, body_fingerprint
from paybridge.rate_sources import ChainRates
from paybridge.requests.building import new_request_id, unsaved_row
from paybridge.requests.index_pool import IndexPool
from paybridge.requests.service import create_payment_requests
from paybridge.store.bulk import insert_at_commit as defer_insert
from paybridge.store.db import dialect_insert
from paybridge.store.models import ApiOrder, IdempotencyKey, PaymentRequest, WebhookEndpoint

API_ERP = "api"


class OrderRefused(ValueError):
    """The order cannot be created as sent; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title


@dataclass(frozen=True)
class OrderResult:
    request: PaymentRequest
    order: ApiOrder
    created: bool  # False: an Idempotency-Key replay


class SameAssetRate:
    """The rate of an asset in itself: 1, exactly (an order priced in ETH, paid in ETH)."""

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        return Rate(asset_symbol, currency, _ONE, "same-asset", at or datetime.now(UTC))


_ONE = Decimal(1)


def resolve_network(config: PayBridgeConfig, network: str | int) -> ChainConfig:
    text = str(network).strip()
    name = NETWORK_ALIASES.get(text.lower(), text.lower())
    try:
        return config.chain(int(name) if name.isdigit() else name)
    except ConfigError as exc:
        raise OrderRefused(422, "Unknown network", f"network: {exc}") from exc


def resolve_asset(config: PayBridgeConfig, chain: ChainConfig, symbol: str) -> AssetConfig:
    try:
        return config.asset(chain.name, symbol)
    except ConfigError as exc:
        raise OrderRefused(
            422,
            "Unknown asset",
            f"currency: {exc}. To price in a fiat currency, send it as pricing_currency and "
            "the asset to pay in as currency",
        ) from exc


class LockedRate:
    """An order's rate read once, before its transaction, and answered to every later ask (or
    the reason it could not be read). Why: a live source (a Chainlink feed) is an RPC call,
    which inside the order's batch (``api.order_writer``) would hold up every order queued
    behind it, and on SQLite the store's write lock; and the availability check and the quote
    then use one price."""

    def __init__(self, rate: Rate | None, error: RateUnavailable | None = None) -> None:
        self._rate = rate
        self._error = error

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        if self._error is not None:
            raise self._error
        assert self._rate is not None
        return self._rate


def lock_rate(
    config: PayBridgeConfig,
    body: CreateOrder,
    rates_for_chain: Callable[[str], RateSource] | None = None,
) -> Callable[[str], RateSource] | None:
    """``rates_for_chain`` for ``create_order`` with a fiat-priced order's rate read now
    (``LockedRate``); unchanged for an order priced in its asset, or one refused anyway for its
    network or asset (``create_order`` answers that after the caller and key checks, as does
    it a rate that could not be read)."""
    if body.pricing_currency is None:
        return rates_for_chain
    try:
        chain = resolve_network(config, body.network)
        asset = resolve_asset(config, chain, body.currency)
    except OrderRefused:
        return rates_for_chain
    source = (rates_for_chain or (lambda name: ChainRates(config, name)))(chain.name)
    try:
        locked = LockedRate(source.get_rate(asset.symbol, body.pricing_currency.upper()))
    except RateUnavailable as exc:
        locked = LockedRate(None, exc)
    return lambda _name: locked


def create_order(
    session: Session,
    body: CreateOrder,
    *,
    config: PayBridgeConfig,
    caller: Caller,
    idempotency_key: str | None,
    rates_for_chain: Callable[[str], RateSource] | None = None,
    now: datetime | None = None,
    index_pool: IndexPool | None = None,
    insert_at_commit: bool = False,
) -> OrderResult:
    """Create the order in the caller's transaction (or replay the one this key created).

    ``index_pool``: the process's reserved derivation indexes (``requests.index_pool``); without
    one the xpub's counter row is locked until this transaction ends. ``insert_at_commit``
    (with ``index_pool``): the request and order rows are written at commit with the rest of
    the batch's (``store.bulk.insert_at_commit``), the objects kept in ``session`` meanwhile,
    so that a replay of this key later in the same transaction finds them."""
    deferred = insert_at_commit and index_pool is not None
    when = now or datetime.now(UTC)
    fingerprint = body_fingerprint(body)
    payment_id = new_request_id()
    _top_up_first(index_pool, config, body)
    if idempotency_key is not None and not _claim_key(
        session, caller, idempotency_key, fingerprint, payment_id, when
    ):
        return _replay(session, caller, idempotency_key, fingerprint)
    chain = resolve_network(config, body.network)
    asset = resolve_asset(config, chain, body.currency)
    endpoint_id = _endpoint_for(session, body.webhook_url)
    pricing = (body.pricing_currency or asset.symbol).upper()
    source: RateSource = SameAssetRate()
    if body.pricing_currency is not None:
        source = (rates_for_chain or (lambda name: ChainRates(config, name)))(chain.name)
        try:
            source.get_rate(asset.symbol, pricing)
        except RateUnavailable as exc:
            raise OrderRefused(
                503,
                "No rate",
                f"no trustworthy {asset.symbol}/{pricing} rate on {chain.name} right now ({exc}); "
                "retry later or price the order in the asset itself",
            ) from exc
    try:
        wallet = merchant_wallet(config, chain.name)
    except ConfigError as exc:
        raise OrderRefused(503, "Chain not set up for payments", str(exc)) from exc
    order_id = f"ord_{uuid.uuid4().hex[:24]}"
    invoice = InvoiceRecord(
        erp_system=API_ERP,
        company=caller.key_id,
        invoice_id=order_id,
        customer_id=str(body.metadata.get("customer_id", caller.name))[:128],
        amount=body.amount,
        currency=pricing,
        due_date=None,
        chain=chain.name,
        asset_symbol=asset.symbol,
    )
    (made,) = create_payment_requests(
        session,
        [invoice],
        config=config,
        rates_for_chain=lambda _name: source,
        wallet=wallet,
        actor=caller.actor,
        now=when,
        index_pool=index_pool,
        request_ids=[payment_id],
        insert_at_commit=deferred,
    )
    values = {
        "payment_id": made.request.id,
        "api_key_id": caller.key_id,
        "description": body.description,
        "metadata_json": json.dumps(body.metadata, sort_keys=True, default=str),
        "webhook_url": body.webhook_url,
        "webhook_endpoint_id": endpoint_id,
        "pricing_currency": body.pricing_currency,
        "created_at": when,
    }
    row = {**values, "metadata": values["metadata_json"]}
    del row["metadata_json"]  # the attribute's column is named "metadata"
    order = unsaved_row(ApiOrder, **values)
    if deferred:
        defer_insert(session, _ORDERS, _ORDER_COLUMNS, [row[c] for c in _ORDER_COLUMNS])
        make_transient_to_detached(order)
        session.add(order)  # a replay later in this transaction reads it from the session
        return OrderResult(made.request, order, True)
    # Core, as the request row (the ORM's unit of work costs more than the INSERT), and
    # whether any webhook endpoint is registered read by the same statement
    listening = session.connection().execute(_INSERT_ORDER, row).scalar_one()
    if not listening:
        webhook_outbox.note_no_endpoints(session)
    return OrderResult(made.request, order, True)


_ORDERS = ApiOrder.__table__
_ORDER_COLUMNS = tuple(column.key for column in _ORDERS.columns)
_ENDPOINTS = WebhookEndpoint.__table__
_INSERT_ORDER = sa.insert(ApiOrder.__table__).returning(
    sa.exists().where(_ENDPOINTS.c.disabled_at.is_(None)).select().scalar_subquery()
)


def _top_up_first(pool: IndexPool | None, config: PayBridgeConfig, body: CreateOrder) -> None:
    """Refill the index pool before this transaction takes its connection and writes: the pool
    reserves in a transaction of its own, which on SQLite would wait for this one's write lock
    forever, and on PostgreSQL would need a second pooled connection while this one is held
    (threads doing so at once can exhaust the engine's pool). A batch of orders tops up for
    all of them before its transaction (``index_fingerprint``): then this finds enough."""
    fingerprint = index_fingerprint(config, body) if pool is not None else None
    if pool is not None and fingerprint is not None:
        pool.top_up(fingerprint, 1)


def index_fingerprint(config: PayBridgeConfig, body: CreateOrder) -> str | None:
    """The xpub fingerprint whose index pool this order takes an index from; None for an
    order refused before that (unknown network, chain without a wallet)."""
    try:
        return merchant_wallet(config, resolve_network(config, body.network).name).fingerprint
    except (OrderRefused, ConfigError):
        return None  # refused below, in the usual order


def _claim_key(
    session: Session,
    caller: Caller,
    key: str,
    fingerprint: str,
    payment_id: str,
    when: datetime,
) -> bool:
    """Record (caller, key) -> this body and the payment about to be made, first thing in the
    transaction; False when the key is already taken (a replay, or a 409 for another body).

    ON CONFLICT DO NOTHING instead of a read first: one statement for the usual new key, and a
    concurrent creator of the same key is waited for (its row is then read as committed)."""
    table = IdempotencyKey.__table__
    statement = (
        dialect_insert(session)(table)
        .on_conflict_do_nothing(index_elements=["api_key_id", "key"])
        .returning(table.c.payment_id)
    )
    row = {
        "api_key_id": caller.key_id,
        "key": key,
        "body_hash": fingerprint,
        "payment_id": payment_id,
        "created_at": when,
    }
    return session.connection().execute(statement, row).first() is not None


def _replay(session: Session, caller: Caller, key: str, fingerprint: str) -> OrderResult:
    row = session.get(IdempotencyKey, (caller.key_id, key))
    assert row is not None  # its insert just conflicted; keys are never deleted
    if row.body_hash != fingerprint:
        raise OrderRefused(
            409,
            "Idempotency-Key reused with a different body",
            f"Idempotency-Key {key!r} already created payment {row.payment_id} from a "
            "different request body; send a new key for a new order",
        )
    request = session.get(PaymentRequest, row.payment_id)
    order = session.get(ApiOrder, row.payment_id)
    assert request is not None and order is not None  # written in one transaction
    return OrderResult(request, order, False)


def _endpoint_for(session: Session, url: str | None) -> str | None:
    if url is None:
        return None
    found = session.scalar(
        sa.select(WebhookEndpoint.id)
        .where(WebhookEndpoint.url == url, WebhookEndpoint.disabled_at.is_(None))
        .order_by(WebhookEndpoint.created_at)
        .limit(1)
    )
    if found is None:
        raise OrderRefused(
            422,
            "Unregistered webhook_url",
            f"webhook_url {url!r} is not a registered webhook endpoint: register it first "
            "(`paybridge webhooks add --url URL`), so its events are signed with its secret",
        )
    return found
