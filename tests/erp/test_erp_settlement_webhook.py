"""End to end: a settlement posted to the NetSuite simulator reaches a webhook receiver as a
signed ``settlement.posted`` event naming NetSuite's payment, and nothing is sent before."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from paybridge_connectors.rates.fixed import FixedRateSource
from sqlalchemy.engine import Engine

from paybridge import settlement_outbox
from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.client import WebhookVerificationError, verify_webhook
from paybridge.config import load_config
from paybridge.domain.settlements import Settlement
from paybridge.invoices import InvoiceRecord
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction
from paybridge.webhooks.delivery import deliver_due
from paybridge.webhooks.endpoints import add_endpoint
from simulators.netsuite import NetSuiteSimulator


@pytest.fixture
def received() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback receiver answering 204; yields (url, [(headers, raw body)])."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", got
    finally:
        server.shutdown()
        server.server_close()


def test_posted_settlement_is_delivered_as_a_signed_settlement_posted_webhook(
    sim: NetSuiteSimulator,
    engine: Engine,
    ns_config,
    make_settlement: Callable[..., Settlement],
    received: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, got = received
    (invoice_id,) = sim.seed_invoices(1, customers=1)
    settlement = make_settlement(sim, invoice_id, "pb-webhook-1")
    with transaction(engine) as session:
        _endpoint, secret = add_endpoint(
            session, url, ["settlement.posted"], allow_private=True, actor="test"
        )
        (made,) = create_payment_requests(  # PayBridge's request for this NetSuite invoice
            session,
            [
                InvoiceRecord(
                    "netsuite",
                    settlement.company,
                    str(invoice_id),
                    settlement.customer_id,
                    Decimal("100.00"),
                    "USD",
                    date(2026, 12, 1),
                    "anvil",
                    "USDC",
                )
            ],
            config=load_config(None),
            rates_for_chain=lambda _c: FixedRateSource({("USDC", "USD"): Decimal(1)}),
            wallet=WatchOnlyWallet(ANVIL_DEMO_XPUB),
            actor="test",
        )
        settlement_outbox.enqueue(session, settlement, "ns")
    assert not deliver_due(engine, allow_private=True).delivered  # queued is not posted
    assert got == []

    with NetSuiteConnector(ns_config(sim)) as conn:
        summary = settlement_outbox.post_due(engine, conn, worker="test")
    assert summary.posted == ["pb-webhook-1"]
    assert len(deliver_due(engine, allow_private=True).delivered) == 1

    assert len(got) == 1
    headers, body = got[0]
    header = headers["X-Payment-Signature"]
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()  # computed here, independently of paybridge's signer
    assert hmac.compare_digest(parts["v1"], expected)
    event = json.loads(body)
    assert headers["X-Payment-Event-Id"] == event["event_id"]
    assert event["event_type"] == "settlement.posted"
    (ns_payment,) = sim.account.payments_by_external_id()["pb-webhook-1"]
    data = event["data"]
    assert data["settlement_id"] == "pb-webhook-1"
    assert str(data["erp_payment_id"]) == str(ns_payment)
    assert data["erp_journal_id"]
    assert data["invoices"] == [str(invoice_id)]
    assert data["payment_ids"] == [made.request.id]
    assert Decimal(str(data["amount"])) == settlement.payment_amount
    assert data["tx_hashes"] == list(settlement.evidence.tx_hashes)
    assert verify_webhook(body, header, secret, 300)["event_id"] == event["event_id"]
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body.replace(b"pb-webhook-1", b"pb-webhook-2"), header, secret, 300)
