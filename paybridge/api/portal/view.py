"""What the payer's page shows, computed from the store: the page, the status JSON and the
receipt all read it from here, so they never disagree. Amounts are formatted from integer
base units and Decimals with ``paybridge.domain.amounts`` (never floats)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.domain.amounts import format_base_units, format_fiat, format_token
from paybridge.domain.money import MoneyError
from paybridge.eip681 import erc20_transfer_uri, native_payment_uri
from paybridge.orders.create import API_ERP
from paybridge.orders.queries import get_payment
from paybridge.orders.requote import REQUOTABLE, choices_for
from paybridge.qr import qr_svg
from paybridge.requests.lifecycle import Status
from paybridge.store.models import ApiOrder, PaymentRequest
from paybridge.store.models.chain import ChainReceipt

LOGO_PATH = "/pay/brand/logo"

#: state -> (headline, what the payer should do); the state drives the page's colours too
HEADLINES = {
    "awaiting": ("Waiting for your payment", "Send the exact amount before the quote expires."),
    "expired": ("Quote expired", "The price is no longer guaranteed: get a new quote to pay."),
    "partial": ("Partly paid", "Send the remaining amount to the same address."),
    "detected": ("Payment detected", "Your transfer is on chain, waiting for confirmations."),
    "confirmed": ("Payment confirmed", "Confirmed on chain; the merchant is settling it."),
    "completed": ("Payment completed", "Thank you. Your receipt is ready."),
    "cancelled": ("Payment cancelled", "This payment link is no longer valid."),
}


@dataclass(frozen=True)
class Loaded:
    request: PaymentRequest
    order: ApiOrder | None
    receipts: list[ChainReceipt]


def load(session: Session, payment_id: str) -> Loaded:
    request, order = get_payment(session, payment_id)
    receipts = list(
        session.scalars(
            sa.select(ChainReceipt)
            .where(ChainReceipt.payment_request_id == request.id, ChainReceipt.direction == "in")
            .order_by(ChainReceipt.block_number, ChainReceipt.id)
        )
    )
    return Loaded(request, order, receipts)


def invoice_amount(amount: Decimal, currency: str) -> str:
    """The invoice amount in its currency: ISO 4217 at its exponent, an asset as given."""
    try:
        return format_fiat(amount, currency)
    except MoneyError:
        return f"{amount.normalize():f} {currency}"


def state_of(request: PaymentRequest, now: datetime) -> str:
    status = Status(request.status)
    if status == Status.COMPLETED:
        return "completed"
    if status == Status.INVALID:
        return "cancelled"
    if request.paid_partial and status in (Status.DETECTED, Status.EXPIRED, Status.CONFIRMED):
        return "partial"
    if status == Status.EXPIRED or (status == Status.NEW and request.quote_expires_at <= now):
        return "expired"
    if status == Status.NEW:
        return "awaiting"
    return status.value  # detected, confirmed


def _is_current(receipt: ChainReceipt, request: PaymentRequest) -> bool:
    if receipt.chain_id != request.chain_id:
        return False
    if request.asset_address is None:
        return receipt.asset_address is None
    return (receipt.asset_address or "").lower() == request.asset_address.lower()


def receipt_amount(config: PayBridgeConfig, receipt: ChainReceipt) -> str:
    try:
        decimals = config.asset(receipt.chain_id, receipt.asset_symbol).decimals
    except ConfigError:
        return f"{receipt.amount} base units of {receipt.asset_symbol}"
    return format_token(receipt.amount, decimals, receipt.asset_symbol)


def status_view(
    config: PayBridgeConfig, loaded: Loaded, now: datetime | None = None
) -> dict[str, Any]:
    """The live status: what the page polls (``/pay/{id}/status``)."""
    request = loaded.request
    when = now or datetime.now(UTC)
    state = state_of(request, when)
    headline, guidance = HEADLINES[state]
    remaining = max(0, request.amount_due - request.amount_received)
    decimals, symbol = request.asset_decimals, request.asset_symbol
    earlier = [
        f"{receipt_amount(config, r)} (transaction {r.tx_hash})"
        for r in loaded.receipts
        if not _is_current(r, request)
    ]
    return {
        "status": request.status,
        "state": state,
        "headline": headline,
        "guidance": guidance,
        "flags": [f for f in ("paid_partial", "paid_over", "paid_late") if getattr(request, f)],
        "received_base_units": str(request.amount_received),
        "due_base_units": str(request.amount_due),
        "received": format_token(request.amount_received, decimals, symbol),
        "remaining": format_token(remaining, decimals, symbol) if state == "partial" else None,
        "remaining_exact": format_base_units(remaining, decimals, min_fraction_digits=0).replace(
            ",", ""
        ),
        "expires_at": request.quote_expires_at.isoformat(),
        "quote": f"{request.chain_id}:{symbol}:{request.amount_due}:{request.quote_expires_at}",
        "can_requote": request.status in REQUOTABLE and not loaded.receipts,
        "earlier_quote_receipts": earlier,
        "receipt_url": f"/pay/{request.id}/receipt" if state == "completed" else None,
    }


def to_send(request: PaymentRequest, state: str) -> tuple[int, str]:
    """Base units the payer should send now and the EIP-681 link for them: the amount due,
    or what remains of it once part arrived (so scanning the QR again never overpays)."""
    if state != "partial":
        return request.amount_due, request.payment_uri
    remaining = max(0, request.amount_due - request.amount_received)
    if request.asset_address is None:
        uri = native_payment_uri(request.deposit_address, request.chain_id, remaining)
    else:
        uri = erc20_transfer_uri(
            request.asset_address, request.chain_id, request.deposit_address, remaining
        )
    return remaining, uri.to_uri()


def page_view(
    config: PayBridgeConfig, loaded: Loaded, network_names: dict[int, str]
) -> dict[str, Any]:
    """Everything the page template needs (branding, invoice summary, quote, choices)."""
    request, order = loaded.request, loaded.order
    portal = config.portal
    status = status_view(config, loaded)
    units, uri = to_send(request, status["state"])
    amount = format_token(units, request.asset_decimals, request.asset_symbol)
    svg = qr_svg(uri, title=f"Pay {amount} to {request.deposit_address}").decode()
    current = f"{network_names.get(request.chain_id, '')}:{request.asset_symbol}"
    return {
        "brand": {
            "name": portal.brand_name or config.merchant.name,
            "logo_url": LOGO_PATH if portal.logo_file else None,
            "colors": {
                "primary": portal.primary_color,
                "on_primary": portal.on_primary_color,
                "text": portal.text_color,
                "background": portal.background_color,
                "surface": portal.surface_color,
            },
        },
        "invoice": invoice_summary(request, order),
        "amount": amount,
        "token_amount": format_base_units(
            units, request.asset_decimals, min_fraction_digits=0
        ).replace(",", ""),
        "network": network_names.get(request.chain_id, str(request.chain_id)),
        "chain_id": request.chain_id,
        "address": request.deposit_address,
        "uri": uri,
        "qr_svg": svg[svg.index("<svg") :],
        "payment_id": request.id,
        "status_url": f"/pay/{request.id}/status",
        "quote_url": f"/pay/{request.id}/quote",
        "choices": [
            {
                "key": c.key,
                "label": f"{c.asset.symbol} on {c.chain.name}",
                "selected": c.key == current,
            }
            for c in choices_for(config, request)
        ],
        **status,
    }


def invoice_summary(request: PaymentRequest, order: ApiOrder | None) -> dict[str, str]:
    if request.erp_system == API_ERP:
        number = request.invoice_id
        title = (order.description if order else None) or f"Order {number}"
    else:
        number = request.invoice_id
        title = f"Invoice {number}"
    return {
        "number": number,
        "title": title,
        "amount": invoice_amount(request.invoice_amount, request.currency),
        "customer": request.customer_id,
        "due_date": request.due_date.isoformat() if request.due_date else "",
    }
