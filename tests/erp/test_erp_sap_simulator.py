"""Connector against the SAP simulator over real HTTP: S/4 (OData + SOAP) and ECC (SOAP-RFC).

Runs when ``simulators.sap`` is importable; skipped otherwise. The pipeline end to end
(invoice -> chain payment -> settlement -> cleared -> tie-out) is in
``tests/reconcile_store/test_reconcile_store_sap_books.py``; exactly once under faults with
two workers in ``test_erp_sap_exactly_once.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from paybridge_connectors.erp.protocol import (
    ConnectionProblem,
    ErpConnector,
    ErpRejectedError,
    ErpUnavailableError,
)
from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.ecc import EccConnector
from paybridge_connectors.erp.sap.s4 import S4Connector
from sap_support import settlement

sap_sim = pytest.importorskip("simulators.sap", reason="SAP simulator (simulators.sap) not here")

ACCOUNTS = {
    "clearing": "11002000",
    "digital_asset": {"financial_instrument": "11003000", "crypto_asset": "11003100"},
    "gain": "70010000",
    "loss": "70020000",
    "write_off": "70030000",
    "receivables": "12100000",
}
POSTED_ON = date(2026, 5, 2)


@pytest.fixture
def sim() -> Iterator[Any]:
    with sap_sim.SAPSimulator(clearing_delay_s=0.05) as simulator:
        yield simulator


def config(sim: Any, **overrides: object) -> SapConnectionConfig:
    values: dict[str, object] = {
        "system": "s4",
        "base_url": sim.base_url,
        "client": "100",
        "user": sap_sim.DEFAULT_USER,
        "password": sap_sim.DEFAULT_PASSWORD,
        "company_codes": ("1010", "2910", "4010"),
        "customers": ("17100001",),
        "accounts": {code: ACCOUNTS for code in ("1010", "2910", "4010")},
        "payment_asset": "USDC",
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "max_attempts": 8,
        "timeout_s": 5,
        "clearing_check_interval_s": 0.05,
    }
    values.update(overrides)
    return SapConnectionConfig(**values)  # type: ignore[arg-type]


def seed(sim: Any, company: str, amount: str, currency: str, reference: str) -> Any:
    return sim.seed_open_item(
        company,
        "17100001",
        Decimal(amount),
        currency,
        reference=reference,
        assignment=reference,
        posting_date=date(2026, 5, 1),
        document_type="DR",
    )


def synced(connector: ErpConnector) -> dict[str, Any]:
    return {i.invoice_id: i for p in connector.fetch_open_invoices(None) for i in p.invoices}


def paying(
    invoice: Any, short: str = "0", settlement_id: str = "pb-pr_0123456789abcdef01234567"
) -> Any:
    s = settlement(
        invoice.invoice_id,
        company=invoice.company,
        currency=invoice.currency,
        customer=invoice.customer_id,
        invoice_amount=invoice.amount,
        short=Decimal(short),
        settlement_id=settlement_id,
    )
    return dataclasses.replace(s, value_date=POSTED_ON)


@pytest.mark.parametrize(
    ("company", "amount", "currency", "short"),
    [
        ("1010", "1190.00", "EUR", "0.50"),
        ("2910", "125000", "JPY", "3"),
        ("4010", "12.345", "KWD", "0.005"),
    ],
)
def test_s4_sync_post_clear_exactly_once(
    sim: Any, company: str, amount: str, currency: str, short: str
) -> None:
    key = seed(sim, company, amount, currency, "INV-1001")
    with S4Connector(config(sim)) as connector:
        assert isinstance(connector, ErpConnector)
        invoices = synced(connector)
        invoice = invoices[f"{key.fiscal_year}-{key.accounting_document}-{key.item}"]
        assert (invoice.amount, invoice.currency, invoice.invoice_number) == (
            Decimal(amount),
            currency,
            "INV-1001",
        )
        s = paying(invoice, short)
        first = connector.post_settlement(s)
        assert not sim.ledger.item_open(key)  # cleared, confirmed by reading IsCleared back
        assert first.journal_id  # the clearing document
        documents = len(sim.ledger.committed_documents(company))
        again = connector.post_settlement(s)  # a retry: found by reference, nothing new
        assert again.payment_id == first.payment_id
        assert len(sim.ledger.committed_documents(company)) == documents
        assert connector.find_settlement(s.settlement_id).payment_id == first.payment_id
        (item,) = connector.cleared_items()
        assert (item.settlement_id, item.amount) == (s.settlement_id, s.payment_amount)
        assert invoice.invoice_id not in synced(connector)  # no longer open
        changed = dataclasses.replace(
            s,
            payment_amount=s.payment_amount,
            memo="x",
            applications=(dataclasses.replace(s.applications[0]),),
            value_date=date(2026, 5, 3),
        )
        with pytest.raises(ErpRejectedError, match=r"already posted in SAP .* different content"):
            connector.post_settlement(changed)
    balances = sim.ledger.trial_balance(company, 2026)
    assert balances["0011002000"] == 0  # crypto clearing nets to zero per settlement
    assert balances["0012100000"] == 0  # receivable settled (applied + written off)


def test_s4_business_errors_are_refused_with_sap_text(sim: Any) -> None:
    seed(sim, "1010", "100.00", "EUR", "INV-2001")
    sim.ledger.set_period_open("1010", 2026, 5, open=False)
    with S4Connector(config(sim)) as connector:
        (invoice,) = synced(connector).values()
        with pytest.raises(ErpRejectedError, match="refused the journal entry") as refused:
            connector.post_settlement(paying(invoice))
    assert "period" in str(refused.value).lower(), refused.value


def test_s4_exactly_once_when_answers_are_lost(sim: Any) -> None:
    keys = [seed(sim, "1010", f"{100 + n}.00", "EUR", f"INV-3{n:03d}") for n in range(5)]
    with S4Connector(config(sim)) as connector:
        invoices = list(synced(connector).values())
        sim.set_faults(
            sap_sim.FaultConfig(
                commit_then_drop_rate=0.3, error_5xx_rate=0.2, writes_only=True, seed=7
            )
        )
        failures = 0
        for n, invoice in enumerate(invoices):
            for _attempt in range(6):  # what the outbox does: call again until posted
                try:
                    connector.post_settlement(paying(invoice, settlement_id=f"pb-lost-{n}"))
                    break
                except ErpUnavailableError:
                    failures += 1
        sim.set_faults(sap_sim.FaultConfig())
        lost = connector.gateway.stats.retries + failures
        assert lost > 0  # faults did happen
        posted = [
            d for d in sim.ledger.committed_documents("1010") if d.reference.startswith("pb-lost")
        ]
        assert sorted(d.reference for d in posted) == [f"pb-lost-{n}" for n in range(5)]
    assert not any(sim.ledger.item_open(k) for k in keys)


@pytest.mark.parametrize(
    ("system", "connector_class"), [("s4", S4Connector), ("ecc", EccConnector)]
)
def test_test_connection_tells_problems_apart(sim: Any, system: str, connector_class: Any) -> None:
    checks = {}
    for label, overrides in {
        "ok": {},
        "bad_credentials": {"password": "wrong"},
        "missing_permissions": {
            "user": sap_sim.READ_ONLY_USER,
            "password": sap_sim.READ_ONLY_PASSWORD,
        },
        "unreachable": {"base_url": "http://127.0.0.1:9", "max_attempts": 1},
    }.items():
        with connector_class(config(sim, system=system, **overrides)) as connector:
            checks[label] = connector.test_connection()
    assert {label: c.problem for label, c in checks.items()} == {
        "ok": ConnectionProblem.OK,
        "bad_credentials": ConnectionProblem.BAD_CREDENTIALS,
        "missing_permissions": ConnectionProblem.MISSING_PERMISSIONS,
        "unreachable": ConnectionProblem.UNREACHABLE,
    }


def test_ecc_sync_post_commit_and_automatic_clearing(sim: Any) -> None:
    key = seed(sim, "4010", "12.345", "KWD", "INV-4001")
    with EccConnector(config(sim, system="ecc")) as connector:
        (invoice,) = synced(connector).values()
        assert invoice.amount == Decimal("12.345")
        s = paying(invoice, "0.005")
        first = connector.post_settlement(s)
        documents = len(sim.ledger.committed_documents("4010"))
        assert connector.post_settlement(s).payment_id == first.payment_id  # found, not re-posted
        assert sim.ledger.item_open(key)
        sim.run_automatic_clearing("4010")  # F.13: the assignment (ZUONR) matches
        assert not sim.ledger.item_open(key)
        # after F.13 the payment is still found (statement BAPI): no second document
        assert connector.post_settlement(s).payment_id == first.payment_id
        assert len(sim.ledger.committed_documents("4010")) == documents + 1  # + the clearing
        (item,) = connector.cleared_items()
        assert (item.settlement_id, item.amount) == (s.settlement_id, s.payment_amount)
        assert connector.find_settlement(s.settlement_id).payment_id == first.payment_id
        assert synced(connector) == {}
    assert sim.ledger.trial_balance("4010", 2026)["0011002000"] == 0


def test_ecc_exactly_once_when_answers_are_lost(sim: Any) -> None:
    keys = [seed(sim, "1010", f"{200 + n}.00", "EUR", f"INV-7{n:03d}") for n in range(5)]
    with EccConnector(config(sim, system="ecc")) as connector:
        invoices = list(synced(connector).values())
        sim.set_faults(
            sap_sim.FaultConfig(
                commit_then_drop_rate=0.3, error_5xx_rate=0.2, writes_only=True, seed=11
            )
        )
        failures = 0
        for n, invoice in enumerate(invoices):
            for _attempt in range(40):  # every SOAP-RFC call is an HTTP POST: all are faulted
                try:
                    connector.post_settlement(paying(invoice, settlement_id=f"pb-ecc-{n}"))
                    break
                except ErpUnavailableError:
                    failures += 1
        sim.set_faults(sap_sim.FaultConfig())
        assert failures > 0
    posted = [d for d in sim.ledger.committed_documents("1010") if d.reference.startswith("pb-ecc")]
    assert sorted(d.reference for d in posted) == [f"pb-ecc-{n}" for n in range(5)]
    sim.run_automatic_clearing("1010")
    assert not any(sim.ledger.item_open(k) for k in keys)


def test_ecc_return_errors_carry_sap_text(sim: Any) -> None:
    seed(sim, "1010", "50.00", "EUR", "INV-5001")
    with EccConnector(config(sim, system="ecc")) as connector:
        (invoice,) = synced(connector).values()
        sim.ledger.set_customer_blocked("17100001", "1010", True)
        with pytest.raises(ErpRejectedError, match="document check failed: E "):
            connector.post_settlement(paying(invoice))
    assert len(sim.ledger.committed_documents("1010")) == 1  # only the invoice


def test_s4_paging_does_not_skip_items_when_one_is_cleared_meanwhile(sim: Any) -> None:
    keys = [seed(sim, "1010", f"{10 + n}.00", "EUR", f"INV-6{n:03d}") for n in range(5)]
    ids = [f"{k.fiscal_year}-{k.accounting_document}-{k.item}" for k in keys]
    with S4Connector(config(sim, page_size=2)) as reader, S4Connector(config(sim)) as poster:
        pages = reader.fetch_open_invoices(None)
        first = next(pages).invoices
        assert [i.invoice_id for i in first] == ids[:2]
        poster.post_settlement(paying(first[0], settlement_id="pb-paging-0"))  # clears ids[0]
        assert not sim.ledger.item_open(keys[0])
        rest = [i.invoice_id for page in pages for i in page.invoices]
    assert rest == ids[2:]  # $skip alone would have jumped over ids[2]


def test_s4_clearing_not_confirmed_needs_attention_then_requeue_completes(sim: Any) -> None:
    key = seed(sim, "1010", "80.00", "EUR", "INV-8001")
    sim.clearing_delay_s = 3600.0  # SAP accepted the clearing but has not applied it
    with S4Connector(config(sim, clearing_checks=2)) as connector:
        (invoice,) = synced(connector).values()
        s = paying(invoice)
        with pytest.raises(ErpRejectedError, match="did not confirm clearing") as pending:
            connector.post_settlement(s)
        assert pending.value.code == "CLEARING_NOT_CONFIRMED"
        assert sim.ledger.item_open(key)
        sim.wait_for_clearings()  # SAP gets to it
        posted = connector.post_settlement(s)  # the requeued settlement: found, confirmed
        assert posted.journal_id
    assert not sim.ledger.item_open(key)
    ours = [d for d in sim.ledger.committed_documents("1010") if d.header_text.startswith("PB:")]
    assert len(ours) == 1  # one payment document, however often the clearing was asked for


def test_s4_incremental_sync_reports_invoices_that_left_open(sim: Any) -> None:
    key = seed(sim, "1010", "60.00", "EUR", "INV-9001")
    with S4Connector(config(sim)) as connector:
        pages = list(connector.fetch_open_invoices(None))
        (invoice,) = [i for p in pages for i in p.invoices]
        assert not any(p.closed for p in pages)  # a full sync reads open items only
        watermark = pages[-1].watermark
        connector.post_settlement(paying(invoice, settlement_id="pb-left-open"))
        later = list(connector.fetch_open_invoices(watermark))
    (closed,) = [c for p in later for c in p.closed]
    assert closed.invoice_id == f"{key.fiscal_year}-{key.accounting_document}-{key.item}"
    assert closed.status == "closed" and "cleared by document" in closed.detail
    assert not any(p.invoices for p in later)
