"""The payer's re-quote on the portal: another asset or network, or a fresh rate after expiry.

Why the request is re-quoted in place and keeps its deposit address: a request is one per
invoice (ERP settlement and reconciliation rest on that), and the address is the same xpub
child on every EVM chain, so the payer's link and the merchant's key stay the same. What
must never happen is a transfer to the *old* quote going unseen, so the replaced quote is
kept (``superseded_quotes``) and its chain keeps watching the address until the old quote's
own late-payment window ends; a transfer there is recorded against this payment (and, being
in another asset or on another chain than the current quote, goes to reconciliation).

Only a request nothing has arrived for may be re-quoted (status new or expired, no receipt
on any chain): a partly paid request is finished in the asset it was started in. Idempotent:
asking again for the quote the request already has, while it is still valid, changes nothing.
Every change is one audit entry with the old and new quote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from paybridge_connectors.rates.base import Rate, RateSource, RateUnavailable
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.config import AssetConfig, ChainConfig, ConfigError, PayBridgeConfig
from paybridge.config.merchant_keys import merchant_wallet
from paybridge.domain.audit_events import AuditEvent
from paybridge.domain.money import MoneyError
from paybridge.orders.create import OrderRefused, SameAssetRate
from paybridge.rate_sources import ChainRates
from paybridge.requests.building import describe_source, payment_uri
from paybridge.requests.lifecycle import Status, transition
from paybridge.requests.quotes import make_quote
from paybridge.store.db import get_for_update
from paybridge.store.models import PaymentRequest, SupersededQuote
from paybridge.store.models.chain import ChainReceipt

ACTOR = "payer-portal"
REQUOTABLE = (Status.NEW.value, Status.EXPIRED.value)
#: a payment link is public: bound what toggling choices can write (rows, audit entries)
MAX_REQUOTES = 20


@dataclass(frozen=True)
class Choice:
    """One asset on one network the payer may pay this request in."""

    chain: ChainConfig
    asset: AssetConfig

    @property
    def key(self) -> str:
        return f"{self.chain.name}:{self.asset.symbol}"


@dataclass(frozen=True)
class RequoteResult:
    request: PaymentRequest
    changed: bool  # False: the request already had this quote, still valid


def choices_for(config: PayBridgeConfig, request: PaymentRequest) -> list[Choice]:
    """Assets and networks this request can be re-quoted in: enabled assets on chains whose
    deposit addresses come from the request's xpub (so the address stays the payer's), and,
    for an order priced in an asset itself (0.05 ETH), only that asset (no cross rate)."""
    symbols = {asset.symbol.upper() for asset in config.assets}
    priced_in_asset = request.currency.upper() in symbols
    found: list[Choice] = []
    for chain in config.chains:
        try:
            if merchant_wallet(config, chain.name).fingerprint != request.xpub_fingerprint:
                continue
        except ConfigError:
            continue
        for asset in config.assets_on(chain.name):
            if priced_in_asset and asset.symbol.upper() != request.currency.upper():
                continue
            found.append(Choice(chain, asset))
    return found


def requote(
    session: Session,
    payment_id: str,
    choice_key: str,
    *,
    config: PayBridgeConfig,
    rates_for_chain: Callable[[str], RateSource] | None = None,
    now: datetime | None = None,
) -> RequoteResult:
    """Give ``payment_id`` a fresh locked quote in ``choice_key`` ("<chain>:<symbol>")."""
    when = now or datetime.now(UTC)
    request = get_for_update(session, PaymentRequest, payment_id)
    if request is None:
        raise OrderRefused(404, "Payment not found", f"no payment {payment_id!r}")
    choice = {c.key: c for c in choices_for(config, request)}.get(choice_key)
    if choice is None:
        raise OrderRefused(
            422,
            "Not offered for this payment",
            f"payment {payment_id}: choice {choice_key!r} is not one of the assets and "
            "networks offered for it",
        )
    same = (choice.chain.chain_id, choice.asset.symbol) == (request.chain_id, request.asset_symbol)
    if same and request.status == Status.NEW.value and request.quote_expires_at > when:
        return RequoteResult(request, False)
    if request.status not in REQUOTABLE or _has_receipts(session, request.id):
        raise OrderRefused(
            409,
            "Payment already under way",
            f"payment {payment_id} is {request.status} and transfers have arrived for it: "
            f"finish it in {request.asset_symbol}, the asset it was started in",
        )
    quote = make_quote(
        request.invoice_amount,
        request.currency,
        choice.asset,
        _rate(config, choice, request.currency, rates_for_chain),
        when,
        config.quotes,
    )
    seq = 1 + (
        session.scalar(
            sa.select(sa.func.max(SupersededQuote.seq)).where(
                SupersededQuote.payment_request_id == request.id
            )
        )
        or 0
    )
    if seq > MAX_REQUOTES:
        raise OrderRefused(
            429,
            "Too many new quotes",
            f"payment {payment_id} was re-quoted {MAX_REQUOTES} times: ask the merchant for "
            "a new payment link",
        )
    before = _quote(request)
    session.add(
        SupersededQuote(
            payment_request_id=request.id,
            seq=seq,
            chain_id=request.chain_id,
            asset_symbol=request.asset_symbol,
            asset_address=request.asset_address,
            asset_decimals=request.asset_decimals,
            deposit_address=request.deposit_address,
            amount_due=request.amount_due,
            rate_price=request.rate_price,
            rate_source=request.rate_source,
            quote_expires_at=request.quote_expires_at,
            monitor_until=request.monitor_until,
            payment_uri=request.payment_uri,
            replaced_at=when,
        )
    )
    request.chain_id = choice.chain.chain_id
    request.asset_symbol = choice.asset.symbol
    request.asset_address = choice.asset.address
    request.asset_decimals = choice.asset.decimals
    request.amount_due = quote.amount_due
    request.rate_price = quote.rate.price
    request.rate_source = describe_source(quote.rate)
    request.rate_as_of = quote.rate.as_of
    request.rate_round_id = None if quote.rate.round_id is None else str(quote.rate.round_id)
    request.quote_expires_at = quote.expires_at
    request.monitor_until = max(request.monitor_until, quote.monitor_until)
    request.payment_uri = payment_uri(request)
    reason = f"payer chose {choice.asset.symbol} on {choice.chain.name} (quote {seq} replaced)"
    events: list[AuditEvent] = []
    if request.status == Status.EXPIRED.value:
        events.append(transition(request, Status.NEW, actor=ACTOR, reason=reason, at=when))
    request.updated_at = when
    events.append(
        AuditEvent(
            actor=ACTOR,
            entity_type="payment_request",
            entity_id=request.id,
            action="requote",
            before=before,
            after=_quote(request),
            reason=reason,
        )
    )
    audit.append(session, events, at=when)
    session.flush()
    return RequoteResult(request, True)


def _has_receipts(session: Session, request_id: str) -> bool:
    found = session.scalar(
        sa.select(ChainReceipt.id)
        .where(ChainReceipt.payment_request_id == request_id, ChainReceipt.direction == "in")
        .limit(1)
    )
    return found is not None


def _rate(
    config: PayBridgeConfig,
    choice: Choice,
    currency: str,
    rates_for_chain: Callable[[str], RateSource] | None,
) -> Rate:
    if choice.asset.symbol.upper() == currency.upper():
        return SameAssetRate().get_rate(choice.asset.symbol, currency.upper())
    source = (rates_for_chain or (lambda name: ChainRates(config, name)))(choice.chain.name)
    try:
        return source.get_rate(choice.asset.symbol, currency)
    except (RateUnavailable, MoneyError) as exc:
        raise OrderRefused(
            503,
            "No rate",
            f"no trustworthy {choice.asset.symbol}/{currency} rate on {choice.chain.name} "
            f"right now ({exc}); try another asset or again later",
        ) from exc


def _quote(request: PaymentRequest) -> dict[str, str]:
    return {
        "asset": f"{request.asset_symbol}@{request.chain_id}",
        "deposit_address": request.deposit_address,
        "amount_due": str(request.amount_due),
        "rate": f"{request.rate_price} {request.currency}/{request.asset_symbol}",
        "rate_source": request.rate_source,
        "quote_expires_at": request.quote_expires_at.isoformat(),
        "monitor_until": request.monitor_until.isoformat(),
    }


def superseded(session: Session, request_id: str) -> list[SupersededQuote]:
    return list(
        session.scalars(
            sa.select(SupersededQuote)
            .where(SupersededQuote.payment_request_id == request_id)
            .order_by(SupersededQuote.seq)
        )
    )
