"""The payer's receipt once a payment is completed: HTML, and the same page printed to PDF
by WeasyPrint (imported here, lazily: it is heavy and only receipts need it). Nothing is
fetched while printing: the logo is embedded as a data: URI and any other URL is refused."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment

from paybridge.api.portal.view import Loaded, invoice_summary, receipt_amount, state_of
from paybridge.config import PayBridgeConfig
from paybridge.domain.amounts import format_token


class NoReceiptYet(Exception):
    """Receipts exist for completed payments only."""


def receipt_context(
    config: PayBridgeConfig, loaded: Loaded, network_names: dict[int, str]
) -> dict[str, Any]:
    request = loaded.request
    if state_of(request, request.updated_at) != "completed":
        raise NoReceiptYet(
            f"payment {request.id} is {request.status}: the receipt is issued once it is completed"
        )
    portal = config.portal
    logo = None
    if portal.logo_file:
        data = base64.b64encode(Path(portal.logo_file).read_bytes()).decode()
        logo = f"data:{portal.logo_media_type};base64,{data}"
    return {
        "brand_name": portal.brand_name or config.merchant.name,
        "logo": logo,
        "colors": {"primary": portal.primary_color, "text": portal.text_color},
        "receipt_number": f"R-{request.id}",
        "payment_id": request.id,
        "invoice": invoice_summary(request, loaded.order),
        "paid": format_token(request.amount_received, request.asset_decimals, request.asset_symbol),
        "due": format_token(request.amount_due, request.asset_decimals, request.asset_symbol),
        "network": network_names.get(request.chain_id, str(request.chain_id)),
        "chain_id": request.chain_id,
        "address": request.deposit_address,
        "rate": f"{request.rate_price} {request.currency}/{request.asset_symbol}",
        "completed_at": request.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
        # the PDF's dates: the completion, so the same receipt prints to the same bytes
        "completed_iso": request.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "transfers": [
            {
                "tx_hash": r.tx_hash,
                "amount": receipt_amount(config, r),
                "network": network_names.get(r.chain_id, str(r.chain_id)),
                "block": r.block_number,
                "time": r.block_timestamp.strftime("%Y-%m-%d %H:%M:%S UTC"),
            }
            for r in loaded.receipts
        ],
    }


def render_html(templates: Environment, context: dict[str, Any]) -> str:
    return templates.get_template("receipt.html").render(**context)


def render_pdf(html: str) -> bytes:
    """Print the receipt page; the PDF identifier comes from the page (same page, same id)."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    only_inline = URLFetcher(allowed_protocols=("data",))  # the embedded logo, nothing else

    identifier = hashlib.sha256(html.encode()).hexdigest()[:32].encode()
    return HTML(string=html, url_fetcher=only_inline).write_pdf(identifier=identifier)
