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
from sqlalchemy.orm import Session

from paybridge.access.api_keys import Caller
from paybridge.config import AssetConfig, ChainConfig, ConfigError, PayBridgeConfig
from paybridge.config.merchant_keys import merchant_wallet
from paybridge.invoices import InvoiceRecord
from paybridge.orders.body import NETWORK_ALIASES, CreateOrder, body_fingerprint
from paybridge.rate_sources import ChainRates
from paybridge.requests.index_pool import IndexPool
from paybridge.requests.service import create_payment_requests
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
) -> OrderResult:
    """Create the order in the caller's transaction (or replay the one this key created).

    ``index_pool``: the process's reserved derivation indexes (``requests.index_pool``); without
    one the xpub's counter row is locked until this transaction ends."""
    when = now or datetime.now(UTC)
    fingerprint = body_fingerprint(body)
    if idempotency_key is not None:
        replay = _replay(session, caller, idempotency_key, fingerprint)
        if replay is not None:
            return replay
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
    )
    order = ApiOrder(
        payment_id=made.request.id,
        api_key_id=caller.key_id,
        description=body.description,
        metadata_json=json.dumps(body.metadata, sort_keys=True, default=str),
        webhook_url=body.webhook_url,
        webhook_endpoint_id=endpoint_id,
        pricing_currency=body.pricing_currency,
        created_at=when,
    )
    session.add(order)
    if idempotency_key is not None:
        session.add(
            IdempotencyKey(
                api_key_id=caller.key_id,
                key=idempotency_key,
                body_hash=fingerprint,
                payment_id=made.request.id,
                created_at=when,
            )
        )
    session.flush()
    return OrderResult(made.request, order, True)


def _replay(session: Session, caller: Caller, key: str, fingerprint: str) -> OrderResult | None:
    row = session.get(IdempotencyKey, (caller.key_id, key))
    if row is None:
        return None
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
