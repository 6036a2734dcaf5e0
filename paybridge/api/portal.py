"""The payer's page `/pay/{payment_id}`: amount, address, QR, copy buttons, countdown, live
status; everything served from here (no CDN). Public: a payment id is a 96-bit random value.

Minimal for now: no asset/network choice, no re-quote, no receipt (see docs/api.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paybridge.eip681 import describe_amount, format_base_units
from paybridge.orders.queries import get_payment
from paybridge.qr import qr_svg
from paybridge.store.db import transaction

router = APIRouter(include_in_schema=False)
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


@router.get("/pay/{payment_id}", response_class=HTMLResponse)
def pay_page(request: Request, payment_id: str) -> HTMLResponse:
    state = request.app.state
    with transaction(state.engine) as session:
        row, order = get_payment(session, payment_id)
        amount = describe_amount(row.amount_due, row.asset_decimals, row.asset_symbol)
        svg = qr_svg(row.payment_uri, title=f"Pay {amount}").decode()
        context: dict[str, Any] = {
            "merchant": state.config.merchant.name,
            "description": (order.description if order else None) or f"Invoice {row.invoice_id}",
            "amount": amount,
            "token_amount": format_base_units(row.amount_due, row.asset_decimals).replace(",", ""),
            "network": state.networks.get(row.chain_id, str(row.chain_id)),
            "chain_id": row.chain_id,
            "address": row.deposit_address,
            "qr_svg": svg[svg.index("<svg") :],
            "status": row.status,
            "expires_at": row.quote_expires_at.isoformat(),
            "payment_id": row.id,
            "uri": row.payment_uri,
            "status_url": f"/pay/{row.id}/status",
        }
    return HTMLResponse(_templates.get_template("pay.html").render(**context))


@router.get("/pay/{payment_id}/status")
def pay_status(request: Request, payment_id: str) -> dict[str, Any]:
    with transaction(request.app.state.engine) as session:
        row, _order = get_payment(session, payment_id)
        return {
            "status": row.status,
            "received_base_units": str(row.amount_received),
            "due_base_units": str(row.amount_due),
        }
