"""The payer's page over real HTTP: the amount beside the QR code, the address, copy buttons
with labels, live status JSON, nothing loaded from another host. (Rendering in Chromium,
re-quotes and receipts: tests/portal.)"""

from __future__ import annotations

import re

from api_server import ApiServer

from paybridge.eip681 import parse_payment_uri


def test_pay_page_shows_what_the_payer_needs(sqlite_api: ApiServer) -> None:
    with sqlite_api.client(sqlite_api.key("payments:write")) as http:
        body = {"amount": "12.5", "currency": "USDC", "network": "anvil", "description": "Inv 7"}
        payment = http.post("/v1/payments/create-order", json=body).json()
    with sqlite_api.client() as anonymous:  # the payer has no key
        page = anonymous.get(payment["payment_url"].removeprefix(sqlite_api.base_url))
        status = anonymous.get(f"/pay/{payment['payment_id']}/status").json()
        missing = anonymous.get("/pay/pr_nope")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    details = payment["payment_details"]
    assert "12.50 USDC" in html and details["address"] in html and "Inv 7" in html
    assert "<svg" in html and 'aria-label="Copy the address"' in html
    assert parse_payment_uri(
        re.search(r'href="(ethereum:[^"]+)"', html).group(1).replace("&amp;", "&")
    )
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
    assert external == [], f"the page loads from other hosts: {external}"
    assert {k: status[k] for k in ("status", "state", "received_base_units", "due_base_units")} == {
        "status": "new",
        "state": "awaiting",
        "received_base_units": "0",
        "due_base_units": "12500000",
    }
    assert missing.status_code == 404
