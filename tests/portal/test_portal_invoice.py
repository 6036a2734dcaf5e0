"""An ERP invoice's payment request on the payer's page: the invoice number, its amount in
the invoice currency (ISO exponent, thousands separators) and in token units, exact; the
status JSON agrees with the page; the logo is served from the configured local file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portal_env import LOGO_SVG, Portal

from paybridge.config.merchant_keys import merchant_wallet
from paybridge.invoices import InvoiceRecord
from paybridge.rate_sources import ChainRates
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction


def test_erp_invoice_summary_and_logo(portal: Portal) -> None:
    invoice = InvoiceRecord(
        erp_system="netsuite",
        company="1",
        invoice_id="INV-7781",
        customer_id="C-42",
        amount=Decimal("1234.5"),
        currency="USD",
        due_date=date(2026, 12, 31),
        chain="anvil",
        asset_symbol="DAI",
    )
    with transaction(portal.engine) as session:
        (made,) = create_payment_requests(
            session,
            [invoice],
            config=portal.config,
            rates_for_chain=lambda name: ChainRates(portal.config, name),
            wallet=merchant_wallet(portal.config, "anvil"),
            actor="test",
        )
        pid = made.request.id
    with portal.http() as http:
        page = http.get(f"/pay/{pid}")
        status = http.get(f"/pay/{pid}/status").json()
        logo = http.get("/pay/brand/logo")
        receipt = http.get(f"/pay/{pid}/receipt")
    html = page.text
    assert '<h2 id="invoice-title">Invoice INV-7781</h2>' in html
    assert '<strong id="invoice-amount">1,234.50 USD</strong>' in html
    assert '<p class="amount" id="amount">1,234.50 DAI</p>' in html
    assert 'id="exact" readonly value="1234.5"' in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert status["due_base_units"] == str(1234_500000000000000000)
    assert (status["state"], status["remaining"], status["receipt_url"]) == ("awaiting", None, None)
    assert logo.headers["content-type"] == "image/svg+xml" and logo.text == LOGO_SVG
    assert receipt.status_code == 409 and "issued once it is completed" in receipt.text
