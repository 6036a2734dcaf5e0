"""Reading payments (API orders and ERP invoices' requests alike), one page at a time, and
cancelling one that nothing has been paid to."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.eip681 import format_base_units
from paybridge.orders.create import API_ERP, OrderRefused
from paybridge.requests.actions import mark_request
from paybridge.requests.lifecycle import FLAGS, Status
from paybridge.store.models import ApiOrder, PaymentRequest

MAX_PAGE = 200


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    source: str | None = None  # "api" | "erp"
    erp_system: str | None = None
    invoice_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def get_payment(session: Session, payment_id: str) -> tuple[PaymentRequest, ApiOrder | None]:
    request = session.get(PaymentRequest, payment_id)
    if request is None:
        raise OrderRefused(404, "Payment not found", f"no payment {payment_id!r}")
    return request, session.get(ApiOrder, payment_id)


def list_payments(
    session: Session, filters: Filters, limit: int, cursor: str | None
) -> tuple[list[tuple[PaymentRequest, ApiOrder | None]], str | None]:
    """Newest first; ``cursor`` (from the previous page) continues after its last row."""
    query = sa.select(PaymentRequest, ApiOrder).outerjoin(
        ApiOrder, ApiOrder.payment_id == PaymentRequest.id
    )
    if filters.status:
        query = query.where(PaymentRequest.status == filters.status)
    if filters.source == "api":
        query = query.where(PaymentRequest.erp_system == API_ERP)
    elif filters.source == "erp":
        query = query.where(PaymentRequest.erp_system != API_ERP)
    if filters.erp_system:
        query = query.where(PaymentRequest.erp_system == filters.erp_system)
    if filters.invoice_id:
        query = query.where(PaymentRequest.invoice_id == filters.invoice_id)
    if filters.created_from:
        query = query.where(PaymentRequest.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(PaymentRequest.created_at < filters.created_to)
    if cursor:
        created, last_id = _decode_cursor(cursor)
        query = query.where(
            sa.or_(
                PaymentRequest.created_at < created,
                sa.and_(PaymentRequest.created_at == created, PaymentRequest.id < last_id),
            )
        )
    query = query.order_by(PaymentRequest.created_at.desc(), PaymentRequest.id.desc())
    rows = [(r, o) for r, o in session.execute(query.limit(limit + 1))]
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1][0]
        following = _encode_cursor(last.created_at, last.id)
    return rows, following


def cancel_payment(session: Session, payment_id: str, *, actor: str) -> PaymentRequest:
    """Void an order nothing was paid to (status new or expired, nothing received)."""
    request, _order = get_payment(session, payment_id)
    if request.status not in (Status.NEW.value, Status.EXPIRED.value) or request.amount_received:
        raise OrderRefused(
            409,
            "Payment cannot be cancelled",
            f"payment {payment_id} is {request.status} with {request.amount_received} base "
            "units received: only a payment nothing was paid to can be cancelled; resolve "
            "it through reconciliation instead",
        )
    return mark_request(
        session, payment_id, Status.INVALID, actor=actor, reason="cancelled through the API"
    )


def payment_view(
    request: PaymentRequest, order: ApiOrder | None, base_url: str, network: str
) -> dict[str, Any]:
    """The payment as the API answers it (create, get, list)."""
    token_amount = format_base_units(
        request.amount_due, request.asset_decimals, min_fraction_digits=0
    )
    link = f"{base_url}/v1/payments/{request.id}"
    view: dict[str, Any] = {
        "payment_id": request.id,
        "status": request.status,
        "flags": [flag for flag in FLAGS if getattr(request, flag)],
        "source": "api" if request.erp_system == API_ERP else "erp",
        "amount": str(request.invoice_amount),
        "currency": request.currency,
        "payment_details": {
            "address": request.deposit_address,
            "amount": token_amount.replace(",", ""),
            "amount_base_units": str(request.amount_due),
            "asset": request.asset_symbol,
            "asset_address": request.asset_address,
            "decimals": request.asset_decimals,
            "network": network,
            "chain_id": request.chain_id,
            "uri": request.payment_uri,
            "qr_svg_url": f"{link}/qr.svg",
            "qr_png_url": f"{link}/qr.png",
            "expires_at": request.quote_expires_at.isoformat(),
            "rate": str(request.rate_price),
            "rate_source": request.rate_source,
        },
        "amount_received_base_units": str(request.amount_received),
        "payment_url": f"{base_url}/pay/{request.id}",
        "created_at": request.created_at.isoformat(),
        "description": order.description if order else None,
        "metadata": json.loads(order.metadata_json) if order else {},
        "invoice": None
        if order
        else {
            "erp_system": request.erp_system,
            "company": request.company,
            "invoice_id": request.invoice_id,
            "customer_id": request.customer_id,
        },
    }
    return view


def _encode_cursor(created: datetime, payment_id: str) -> str:
    raw = f"{created.isoformat()}|{payment_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, payment_id = raw.split("|", 1)
        return datetime.fromisoformat(created), payment_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise OrderRefused(
            400, "Bad cursor", "cursor is not one this API gave out: start from the first page"
        ) from exc
