"""Postings an accountant would make, checked on the strict simulator's general ledger.

Every test goes over real HTTP (the ``netsuite`` client, OAuth 1.0 signed) and asserts on the
simulator's ledger: clearing nets to zero, nothing lands in Undeposited Funds, invoices end
paid in full, an overpayment stays in A/R as the customer's credit, a closed period is a
refusal naming the period, and a sync sees invoices that left "open".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from paybridge_connectors.erp.protocol import ErpInvoice, ErpRejectedError

from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement, WriteOff
from simulators.netsuite import NetSuiteSimulator

UNDEPOSITED_FUNDS = "116"
CLEARING, STABLECOINS, GAIN_LOSS, WRITE_OFFS, AR = "301", "302", "303", "304", "119"


def synced(connector: NetSuiteConnector) -> dict[str, ErpInvoice]:
    return {i.invoice_id: i for page in connector.fetch_open_invoices(None) for i in page.invoices}


def settle(
    invoice: ErpInvoice,
    sid: str,
    paid: Decimal,
    fair_value: Decimal,
    *,
    write_off: Decimal = Decimal(0),
    received_at: datetime | None = None,
    exchange_rate: Decimal | None = None,
) -> Settlement:
    """A settlement as the engine builds one: cash ``paid``, ``write_off`` credited, the
    digital asset at ``fair_value`` with the difference as gain or loss."""
    lines = [
        JournalLine("digital_asset", debit=fair_value, account_key="financial_instrument"),
        JournalLine("crypto_clearing", credit=paid),
    ]
    if fair_value != paid:
        kind = "gain" if fair_value > paid else "loss"
        side = {"credit": fair_value - paid} if kind == "gain" else {"debit": paid - fair_value}
        lines.append(JournalLine("settlement_gain_loss", account_key=kind, **side))
    return Settlement(
        settlement_id=sid,
        erp_system="netsuite",
        company=invoice.company,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        applications=(Application(invoice.invoice_id, min(paid + write_off, invoice.amount)),),
        payment_amount=paid,
        journal_lines=tuple(lines),
        write_offs=(WriteOff(invoice.invoice_id, write_off, "PAYMENT_DIFFERENCE"),)
        if write_off
        else (),
        evidence=Evidence(31337, ("0x" + "ab" * 32,), "1", "fixed"),
        received_at=received_at or datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        exchange_rate=exchange_rate,
        ar_account=invoice.ar_account,
    )


def balances(sim: NetSuiteSimulator, subsidiary: int = 1) -> dict[str, Decimal]:
    return sim.account.trial_balance(subsidiary)


def status_of(sim: NetSuiteSimulator, invoice_id: str) -> str:
    return sim.account.get_record("invoice", invoice_id)["status"]["refName"]


def test_sync_reads_each_invoices_own_ar_account_and_base_currency(sim, connector):
    customer = sim.account.add_customer("Acme")
    own = sim.account.add_invoice(customer, Decimal("100.00"))
    other_ar = sim.account.add_account("1210", "A/R Crypto", "AcctRec", [1])
    other = sim.account.add_invoice(customer, Decimal("50.00"), ar_account=other_ar)
    found = synced(connector)
    assert (found[str(own)].ar_account, found[str(own)].base_currency) == (AR, "USD")
    assert found[str(other)].ar_account == str(other_ar)


def test_payment_lands_in_clearing_and_clearing_nets_to_zero(sim, connector):
    customer = sim.account.add_customer("Acme")
    invoice_id = sim.account.add_invoice(customer, Decimal("480.00"))
    invoice = synced(connector)[str(invoice_id)]
    posted = connector.post_settlement(
        settle(invoice, "pb-exact", Decimal("480.00"), Decimal("479.90"))
    )
    payment = sim.account.get_record("customerPayment", posted.payment_id)
    assert payment["undepFunds"]["id"] == "F" and payment["account"]["id"] == CLEARING
    assert payment["arAcct"]["id"] == AR and payment["autoApply"] is False
    tb = balances(sim)
    assert tb[CLEARING] == 0 and tb.get(UNDEPOSITED_FUNDS, Decimal(0)) == 0
    assert tb[STABLECOINS] == Decimal("479.90") and tb[GAIN_LOSS] == Decimal("0.10")
    assert status_of(sim, str(invoice_id)) == "Paid In Full"


def test_within_tolerance_write_off_closes_the_invoice_through_a_credit(sim, connector):
    customer = sim.account.add_customer("Acme")
    invoice_id = sim.account.add_invoice(customer, Decimal("100.00"))
    invoice = synced(connector)[str(invoice_id)]
    settlement = settle(
        invoice, "pb-short", Decimal("99.50"), Decimal("99.50"), write_off=Decimal("0.50")
    )
    connector.post_settlement(settlement)
    connector.post_settlement(settlement)  # a retry changes nothing
    assert status_of(sim, str(invoice_id)) == "Paid In Full"
    tb = balances(sim)
    assert tb[WRITE_OFFS] == Decimal("0.50") and tb[CLEARING] == 0
    assert tb[AR] == 0  # invoice 100 - payment 99.50 - write-off credit 0.50
    assert not any(i.amount > 0 for i in synced(connector).values())  # nothing comes back


def test_overpayment_stays_in_receivables_as_the_customers_credit(sim, connector):
    customer = sim.account.add_customer("Acme")
    invoice_id = sim.account.add_invoice(customer, Decimal("100.00"))
    open_one = sim.account.add_invoice(customer, Decimal("40.00"))
    invoice = synced(connector)[str(invoice_id)]
    posted = connector.post_settlement(
        settle(invoice, "pb-over", Decimal("110.00"), Decimal("110.00"))
    )
    payment = sim.account.get_record("customerPayment", posted.payment_id)
    assert Decimal(str(payment["unapplied"])) == Decimal("10.00")
    assert status_of(sim, str(invoice_id)) == "Paid In Full" and open_one
    assert balances(sim)[AR] == Decimal("40.00") - Decimal("10.00")  # open invoice less credit


def test_non_base_currency_invoice_posts_with_the_given_exchange_rate(sim, connector):
    customer = sim.account.add_customer("Euro Kunde", currency_id=2)
    invoice_id = sim.account.add_invoice(
        customer, Decimal("100.00"), currency_id=2, exchange_rate=Decimal("1.10")
    )
    invoice = synced(connector)[str(invoice_id)]
    assert (invoice.currency, invoice.base_currency) == ("EUR", "USD")
    without = settle(invoice, "pb-eur", Decimal("100.00"), Decimal("100.00"))
    with pytest.raises(ErpRejectedError, match=r"[Ee]xchange [Rr]ate"):
        connector.post_settlement(without)
    connector.post_settlement(replace(without, exchange_rate=Decimal("1.08")))
    assert status_of(sim, str(invoice_id)) == "Paid In Full"
    lines = [x for x in sim.account.gl_lines(1) if x.external_id == "pb-eur"]
    assert sum(x.debit for x in lines if str(x.account) == CLEARING) == Decimal("108.00")


@pytest.mark.parametrize(
    ("code", "currency_id", "amount"), [("JPY", 4, "15000"), ("BHD", 6, "12.345")]
)
def test_jpy_and_bhd_invoices_post_exactly(sim, connector, code, currency_id, amount):
    customer = sim.account.add_customer(f"{code} customer", currency_id=currency_id)
    invoice_id = sim.account.add_invoice(
        customer, Decimal(amount), currency_id=currency_id, exchange_rate=Decimal("0.5")
    )
    invoice = synced(connector)[str(invoice_id)]
    assert invoice.amount == Decimal(amount) and invoice.currency == code
    settlement = settle(
        invoice, f"pb-{code}", Decimal(amount), Decimal(amount), exchange_rate=Decimal("0.5")
    )
    connector.post_settlement(settlement)
    assert status_of(sim, str(invoice_id)) == "Paid In Full"
    assert balances(sim)[CLEARING] == 0


def test_closed_period_is_a_refusal_naming_the_period_and_the_next_step(sim, connector):
    customer = sim.account.add_customer("Acme")
    invoice_id = sim.account.add_invoice(customer, Decimal("100.00"), tran_date=date(2026, 10, 5))
    periods = sim.account.add_monthly_periods(date(2026, 10, 1), 3)
    invoice = synced(connector)[str(invoice_id)]
    sim.account.close_period(periods[1])  # November 2026
    settlement = settle(
        invoice, "pb-closed", Decimal("100.00"), Decimal("100.00"),
        received_at=datetime(2026, 11, 30, 12, tzinfo=UTC),
    )  # fmt: skip
    with pytest.raises(ErpRejectedError) as refused:
        connector.post_settlement(settlement)
    assert refused.value.code == "PERIOD_CLOSED"
    assert "Nov 2026" in str(refused.value) and "requeue pb-closed" in str(refused.value)
    assert sim.account.payments_by_external_id() == {}  # nothing half posted
    assert status_of(sim, str(invoice_id)) == "Open"


def test_tran_date_is_the_receipt_block_date_in_the_subsidiarys_time_zone(sim, ns_config):
    customer = sim.account.add_customer("Acme")
    invoice_id = sim.account.add_invoice(customer, Decimal("10.00"))
    config = ns_config(sim, time_zone="America/Los_Angeles")
    with NetSuiteConnector(config) as connector:
        invoice = synced(connector)[str(invoice_id)]
        late_utc = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)  # still Nov 30 in California
        posted = connector.post_settlement(
            settle(invoice, "pb-tz", Decimal("10.00"), Decimal("10.00"), received_at=late_utc)
        )
    payment = sim.account.get_record("customerPayment", posted.payment_id)
    assert payment["tranDate"] == "2026-11-30"


def test_another_subsidiarys_accounts_are_never_used(sim, connector):
    customer = sim.account.add_customer("EU customer", currency_id=2, subsidiary_id=2)
    invoice_id = sim.account.add_invoice(customer, Decimal("30.00"), currency_id=2, subsidiary_id=2)
    invoice = synced(connector)[str(invoice_id)]
    settlement = settle(invoice, "pb-eu", Decimal("30.00"), Decimal("30.00"))
    connector.post_settlement(settlement)
    lines = [x for x in sim.account.gl_lines(2) if str(x.external_id).startswith("pb-eu")]
    assert {str(x.account) for x in lines} <= {"311", "312", str(invoice.ar_account)}
    wrong = replace(settlement, settlement_id="pb-eu-x", company="3")
    with pytest.raises(ErpRejectedError, match=r"accounts\.3"):
        connector.post_settlement(wrong)


def test_sync_notices_invoices_that_left_open(sim, connector):
    customer = sim.account.add_customer("Acme")
    paid_outside = sim.account.add_invoice(customer, Decimal("20.00"))
    voided = sim.account.add_invoice(customer, Decimal("30.00"))
    stays = sim.account.add_invoice(customer, Decimal("40.00"))
    pages = list(connector.fetch_open_invoices(None))
    watermark = pages[-1].watermark
    sim.account.pay_invoice_outside(paid_outside)
    sim.account.void_invoice(voided)
    closed = {
        c.invoice_id: c.status
        for page in connector.fetch_open_invoices(watermark)
        for c in page.closed
    }
    assert closed == {str(paid_outside): "paid", str(voided): "voided"}
    assert str(stays) not in closed


def test_incremental_sync_misses_nothing_across_the_repeated_dst_hour(ns_config):
    """US daylight saving ends 2026-11-01 02:00 PDT: 01:00-02:00 happens twice. Rows modified
    in both of those hours, and one committed late with an older time, are all read."""
    with NetSuiteSimulator(time_zone="America/Los_Angeles") as sim:
        customer = sim.account.add_customer("Acme")
        first = datetime(2026, 11, 1, 8, 40, tzinfo=UTC)  # 01:40 PDT
        a = sim.account.add_invoice(customer, Decimal("1.00"), last_modified=first)
        config = ns_config(sim, time_zone="America/Los_Angeles")
        with NetSuiteConnector(config) as connector:
            pages = list(connector.fetch_open_invoices(None))
            assert [i.invoice_id for p in pages for i in p.invoices] == [str(a)]
            watermark = pages[-1].watermark
            b = sim.account.add_invoice(  # 01:20 PST: a wall time *earlier* than a's
                customer, Decimal("2.00"), last_modified=first + timedelta(minutes=40)
            )
            late = sim.account.add_invoice(  # committed late, stamped before the watermark
                customer, Decimal("3.00"), last_modified=first - timedelta(minutes=5)
            )
            again = {
                i.invoice_id
                for page in connector.fetch_open_invoices(watermark)
                for i in page.invoices
            }
        assert {str(b), str(late)} <= again


def test_incremental_sync_misses_nothing_across_the_skipped_dst_hour(ns_config):
    """US daylight saving starts 2026-03-08 02:00 PST -> 03:00 PDT: rows either side of the
    missing hour keep their order and a resumed sync reads the later one."""
    with NetSuiteSimulator(time_zone="America/Los_Angeles") as sim:
        customer = sim.account.add_customer("Acme")
        before = datetime(2026, 3, 8, 9, 55, tzinfo=UTC)  # 01:55 PST
        a = sim.account.add_invoice(customer, Decimal("1.00"), last_modified=before)
        config = ns_config(sim, time_zone="America/Los_Angeles", sync_overlap_s=0)
        with NetSuiteConnector(config) as connector:
            pages = list(connector.fetch_open_invoices(None))
            [first] = [i for p in pages for i in p.invoices]
            assert (first.invoice_id, first.last_modified) == (str(a), before)
            b = sim.account.add_invoice(  # 03:05 PDT, ten minutes later in real time
                customer, Decimal("2.00"), last_modified=before + timedelta(minutes=10)
            )
            resumed = [
                i for p in connector.fetch_open_invoices(pages[-1].watermark) for i in p.invoices
            ]
        assert [(i.invoice_id, i.last_modified) for i in resumed] == [
            (str(b), before + timedelta(minutes=10))
        ]
