"""NetSuite connector against the simulator over real HTTP: sync, quarantine, posting, rules."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from paybridge_connectors.erp.netsuite.invoices import Watermark
from paybridge_connectors.erp.protocol import ConnectionProblem, ErpConnector, ErpRejectedError
from paybridge_connectors.rates.fixed import FixedRateSource
from sqlalchemy.engine import Engine

from paybridge import settlement_outbox
from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.audit import checkpoint as audit_checkpoint
from paybridge.config import load_config
from paybridge.domain.money import base_units_to_fiat
from paybridge.domain.settlements import Settlement
from paybridge.erp_sync import sync_open_invoices
from paybridge.invoices import InvoiceRecord, store_invoices
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.models.outbox import (
    ErpInvoiceQuarantine,
    ErpOpenInvoice,
    SettlementOutboxRow,
)
from simulators.netsuite import READ_ONLY_GRANT, NetSuiteSimulator


def _create_via_rest(conn: NetSuiteConnector, record_type: str, body: dict) -> str:
    """POST a record the way an ERP user would; NetSuite answers 204 + Location."""
    response = conn.transport.run(
        conn.transport.send("POST", f"/record/v1/{record_type}", body=json.dumps(body))
    )
    assert response.status_code == 204 and response.text == ""
    return response.headers["Location"].rsplit("/", 1)[-1]


RATE = Decimal("0.9998")


def _payment_request_for(engine: Engine, stored: ErpOpenInvoice) -> PaymentRequest:
    record = InvoiceRecord(
        erp_system=stored.erp_system,
        company=stored.company,
        invoice_id=stored.invoice_id,
        customer_id=stored.customer_id,
        amount=stored.amount,
        currency=stored.currency,
        due_date=stored.due_date,
        chain="anvil",
        asset_symbol="USDC",
    )
    rates = FixedRateSource({("USDC", "USD"): RATE})
    with transaction(engine) as session:
        store_invoices(session, [record], source="netsuite:ns-main")
        [created] = create_payment_requests(
            session,
            [record],
            config=load_config(None),
            rates_for_chain=lambda _chain: rates,
            wallet=WatchOnlyWallet(ANVIL_DEMO_XPUB),
            actor="erp-test",
        )
    return created.request


def test_connector_satisfies_the_protocol(connector: NetSuiteConnector) -> None:
    assert isinstance(connector, ErpConnector)


def test_end_to_end_invoice_fetched_settled_and_paid_once(
    sim: NetSuiteSimulator, connector: NetSuiteConnector, engine: Engine, make_settlement
) -> None:
    customer = _create_via_rest(connector, "customer", {"companyName": "Acme GmbH"})
    invoice = _create_via_rest(
        connector,
        "invoice",
        {"entity": {"id": customer}, "currency": {"id": "1"}, "total": 1234.56},
    )
    summary = sync_open_invoices(engine, connector, "ns-main")
    assert summary.invoices == 1 and summary.quarantined == 0
    with transaction(engine) as session:
        stored = session.scalars(sa.select(ErpOpenInvoice)).one()
    assert (stored.invoice_id, stored.customer_id, stored.currency) == (invoice, customer, "USD")
    assert stored.amount == Decimal("1234.56") and stored.company == "1"

    # The lead's pipeline turns the synced invoice into a crypto payment request.
    request = _payment_request_for(engine, stored)
    assert request.invoice_id == invoice and request.amount_due > 0
    paid_fiat = base_units_to_fiat(request.amount_due, RATE, 6, "USD")
    assert paid_fiat >= Decimal("1234.56")  # quote rounds up: the invoice is covered

    settlement = make_settlement(sim, int(invoice), "pb-e2e-1")
    with transaction(engine) as session:
        assert settlement_outbox.enqueue(session, settlement, "ns-main") is True
        assert settlement_outbox.enqueue(session, settlement, "ns-main") is False
    result = settlement_outbox.post_due(engine, connector, worker="w1")
    assert result.posted == ["pb-e2e-1"] and not result.needs_attention

    record = sim.account.get_record("invoice", invoice)
    assert record["status"]["refName"] == "Paid In Full"
    assert record["amountRemaining"] == 0 and record["amountPaid"] == Decimal("1234.56")
    payments = sim.account.payments_by_external_id()
    assert len(payments["pb-e2e-1"]) == 1
    payment = sim.account.get_record("customerPayment", "eid:pb-e2e-1")
    assert payment["apply"]["items"] == [
        {"doc": {"id": invoice}, "apply": True, "amount": Decimal("1234.56")}
    ]
    journal = sim.account.get_record("journalEntry", "eid:pb-e2e-1-JE")
    assert sum(line["debit"] for line in journal["line"]["items"]) == Decimal("1234.56")
    # The memo carries a signed checkpoint of the audit log as queued: a copy of the log's
    # state in the ERP, outside our database, that the log can be verified against later.
    checkpoint = audit_checkpoint.parse(payment["memo"], "NetSuite memo")
    with transaction(engine) as session:
        assert checkpoint.entries >= 1  # the request's creation was audited before queueing
        assert audit_checkpoint.verify_since(session, checkpoint).ok

    found = connector.find_settlement("pb-e2e-1")
    with transaction(engine) as session:
        row = session.get(SettlementOutboxRow, "pb-e2e-1")
        assert row is not None and row.status == "posted"
        assert (row.erp_payment_id, row.erp_journal_id) == (found.payment_id, found.journal_id)
    assert found.applied == ((invoice, Decimal("1234.56")),)
    # Paid invoices leave the open set; the next incremental sync brings nothing new.
    assert sync_open_invoices(engine, connector, "ns-main").invoices == 0
    cleared = connector.cleared_items()
    assert [(c.settlement_id, c.amount) for c in cleared] == [("pb-e2e-1", Decimal("1234.56"))]
    # Posting again (e.g. an operator re-runs) changes nothing in NetSuite.
    again = connector.post_settlement(settlement)
    assert again.payment_id == found.payment_id
    assert sim.account.get_record("invoice", invoice)["amountPaid"] == Decimal("1234.56")


def test_bad_invoices_are_quarantined_and_the_batch_goes_on(
    sim: NetSuiteSimulator, connector: NetSuiteConnector, engine: Engine
) -> None:
    good = sim.seed_invoices(3)
    acc = sim.account
    customer = acc.add_customer("Bad Data Ltd")
    btc = acc.add_invoice(customer, Decimal("10.00"), currency_id=5)  # not ISO 4217
    bad = {
        btc: "currency",
        acc.add_invoice(customer, Decimal("10.00"), currency_id=None): "currency",
        acc.add_invoice(customer, Decimal("0.00")): "amountremaining",
        acc.add_invoice(customer, Decimal("-5.00")): "amountremaining",
        acc.add_invoice(customer, Decimal("10.00"), currency_id=99): "currency",
        acc.add_invoice(424242, Decimal("10.00")): "entity",
        acc.add_invoice(None, Decimal("10.00")): "entity",
        acc.add_invoice(customer, Decimal("10.005")): "amountremaining",
    }
    summary = sync_open_invoices(engine, connector, "ns-main")
    assert (summary.invoices, summary.quarantined) == (3, len(bad))
    with transaction(engine) as session:
        stored = {r.invoice_id for r in session.scalars(sa.select(ErpOpenInvoice))}
        quarantined = {
            int(q.invoice_id): q for q in session.scalars(sa.select(ErpInvoiceQuarantine))
        }
    assert stored == {str(i) for i in good}
    assert {i: q.field for i, q in quarantined.items()} == bad
    assert all(str(i) in q.reason for i, q in quarantined.items())
    assert "BTC" in quarantined[btc].reason


def test_incremental_sync_resumes_after_the_watermark(
    sim: NetSuiteSimulator, connector: NetSuiteConnector, engine: Engine, ns_config
) -> None:
    first = sim.seed_invoices(5)
    assert sync_open_invoices(engine, connector, "ns").invoices == 5
    later = sim.seed_invoices(2)
    summary = sync_open_invoices(engine, connector, "ns")
    # the 15-minute overlap re-reads the first five (upserted, not duplicated) and the new two
    assert summary.invoices == 7
    assert Watermark.decode(summary.watermark).invoice_id == max(later)  # type: ignore[union-attr]
    assert max(first) < min(later)
    with NetSuiteConnector(ns_config(sim, sync_overlap_s=0)) as exact:
        newest = sim.seed_invoices(1)
        summary = sync_open_invoices(engine, exact, "ns")
    assert summary.invoices == 1 and Watermark.decode(summary.watermark).invoice_id == newest[0]  # type: ignore[union-attr]
    with engine.connect() as db:
        assert db.execute(sa.text("select count(*) from erp_open_invoices")).scalar() == 8


@pytest.mark.parametrize(
    ("applied", "paid", "currency", "message"),
    [
        (Decimal("100.01"), None, "USD", "amount remaining"),
        (Decimal("100.00"), None, "EUR", "Currency of invoice"),
    ],
)
def test_business_rules_are_enforced_and_reach_needs_attention(
    sim: NetSuiteSimulator,
    connector: NetSuiteConnector,
    engine: Engine,
    make_settlement,
    applied: Decimal,
    paid: Decimal | None,
    currency: str,
    message: str,
) -> None:
    (invoice,) = sim.seed_invoices(1, amount=Decimal("100.00"))
    settlement: Settlement = make_settlement(
        sim, invoice, "pb-rule-1", applied=applied, paid=paid, currency=currency
    )
    with pytest.raises(ErpRejectedError) as info:
        connector.post_settlement(settlement)
    assert message in str(info.value) and info.value.status == 400
    with transaction(engine) as session:
        settlement_outbox.enqueue(session, settlement, "ns")
    summary = settlement_outbox.post_due(engine, connector)
    assert summary.needs_attention == ["pb-rule-1"] and message in summary.errors["pb-rule-1"]
    assert sim.account.payments_by_external_id() == {}
    assert sim.account.transactions[invoice]["foreignamountunpaid"] == Decimal("100.00")


def test_test_connection_explains_each_failure(sim: NetSuiteSimulator, ns_config) -> None:
    with NetSuiteConnector(ns_config(sim)) as ok:
        assert ok.test_connection().ok
    with NetSuiteConnector(ns_config(sim, token_secret="wrong")) as bad:
        check = bad.test_connection()
        assert check.problem is ConnectionProblem.BAD_CREDENTIALS
        assert "token id/secret" in check.message
    with NetSuiteConnector(ns_config(sim, grant=READ_ONLY_GRANT)) as limited:
        check = limited.test_connection()
        assert check.problem is ConnectionProblem.MISSING_PERMISSIONS
        assert "permission" in check.message.lower()
    with NetSuiteConnector(ns_config(sim, base_url="http://127.0.0.1:9", timeout_s=2)) as gone:
        check = gone.test_connection()
        assert check.problem is ConnectionProblem.UNREACHABLE
        assert "127.0.0.1:9" in check.message


def test_enqueue_refuses_different_content_under_the_same_id(
    sim: NetSuiteSimulator, engine: Engine, make_settlement
) -> None:
    a, b = sim.seed_invoices(2)
    with transaction(engine) as session:
        settlement_outbox.enqueue(session, make_settlement(sim, a, "pb-same"), "ns")
    with pytest.raises(settlement_outbox.OutboxConflictError), transaction(engine) as session:
        settlement_outbox.enqueue(session, make_settlement(sim, b, "pb-same"), "ns")


def test_eligibility_filter_selects_invoices(sim: NetSuiteSimulator, ns_config) -> None:
    customer = sim.account.add_customer("Filter AG")
    eligible = [
        sim.account.add_invoice(
            customer, Decimal("10.00"), custom_fields={"custbody_pb_crypto": "T"}
        )
        for _ in range(3)
    ]
    sim.account.add_invoice(customer, Decimal("10.00"), custom_fields={"custbody_pb_crypto": "F"})
    sim.account.add_invoice(customer, Decimal("10.00"))
    config = ns_config(sim, eligibility_filter="t.custbody_pb_crypto = 'T'")
    with NetSuiteConnector(config) as conn:
        fetched = [i.invoice_id for page in conn.fetch_open_invoices() for i in page.invoices]
    assert fetched == [str(i) for i in eligible]
