"""The NetSuite simulator's general ledger over real HTTP: currencies, periods, credits, outside
events, SuiteQL access to the GL and the user's time zone."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from paybridge_connectors.erp.protocol import ErpRejectedError

from simulators.netsuite import NetSuiteSimulator


def call(
    conn: NetSuiteConnector, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """A raw signed request (with ``X-NetSuite-PropertyNameValidation: error``)."""
    content = None if body is None else json.dumps(body, default=str).encode()
    return conn.transport.run(
        conn.transport.api.request(method, f"/record/v1/{path}", content=content)
    )


def error(response: httpx.Response) -> tuple[int, str, str | None, str]:
    detail = response.json()["o:errorDetails"][0]
    return response.status_code, detail["o:errorCode"], detail.get("o:errorPath"), detail["detail"]


def suiteql(conn: NetSuiteConnector, query: str) -> list[dict[str, Any]]:
    data = conn.transport.run(conn.transport.suiteql(query, 1000, 0))
    return [{k: v for k, v in row.items() if k != "links"} for row in data["items"]]


def pay(invoice: int, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "payment": amount,
        "undepFunds": False,
        "account": {"id": "301"},
        "apply": {"items": [{"doc": {"id": str(invoice)}, "apply": True, "amount": amount}]},
        **extra,
    }


def test_invoice_and_payment_post_balanced_lines_and_ar_follows_open_invoices(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    acc = sim.account
    customer = acc.add_customer("Ledger AG")
    paid, still_open = (acc.add_invoice(customer, Decimal(x)) for x in ("100.00", "60.00"))
    body = {"customer": {"id": str(customer)}, **pay(paid, "100.00")}
    body["payment"] = "130.00"  # 30.00 unapplied
    assert call(connector, "PUT", "customerPayment/eid:gl-1", body).status_code == 204
    balances = acc.trial_balance(1)
    assert sum(balances.values()) == 0
    # A/R = open invoices minus the unapplied payment (the customer's credit stays in A/R).
    assert balances["119"] == Decimal("60.00") - Decimal("30.00")
    assert balances == {
        "119": Decimal("30.00"),
        "400": Decimal("-160.00"),
        "301": Decimal("130.00"),
    }
    payment = acc.get_record("customerPayment", "eid:gl-1")
    assert (payment["applied"], payment["unapplied"]) == (Decimal("100.00"), Decimal("30.00"))
    assert acc.get_record("invoice", str(paid))["status"]["refName"] == "Paid In Full"
    kinds = {(line.type, line.external_id) for line in acc.gl_lines(1)}
    assert ("CustPymt", "gl-1") in kinds and ("CustInvc", None) in kinds
    # The invoice's A/R account can be read with the invoice, from its GL main line.
    rows = suiteql(
        connector,
        "SELECT t.id AS id, tal.account AS aracct FROM transaction t "
        "INNER JOIN transactionline tl ON tl.transaction = t.id AND tl.mainline = 'T' "
        "INNER JOIN transactionaccountingline tal ON tal.transaction = t.id "
        "AND tal.transactionline = tl.id "
        f"WHERE t.type = 'CustInvc' AND t.id = {still_open}",
    )
    assert rows == [{"id": str(still_open), "aracct": "119"}]
    accounts = suiteql(
        connector,
        "SELECT a.id AS id, a.accttype AS accttype FROM account a "
        "INNER JOIN accountsubsidiarymap m "
        "ON m.account = a.id WHERE m.subsidiary = 2 AND a.accttype = 'AcctRec' ORDER BY a.id",
    )
    assert accounts == [{"id": "119", "accttype": "AcctRec"}, {"id": "121", "accttype": "AcctRec"}]
    with pytest.raises(ErpRejectedError, match="Field 'aracct' for record 'transaction'"):
        suiteql(connector, "SELECT t.aracct FROM transaction t")  # not a transaction column
    assert suiteql(connector, "SELECT s.id AS id, s.currency AS currency FROM subsidiary s") == [
        {"id": "1", "currency": "1"},
        {"id": "2", "currency": "2"},
    ]


def test_foreign_currency_needs_a_rate_and_books_realised_fx_in_base_currency(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    acc = sim.account
    customer = acc.add_customer("Tokyo KK", currency_id=4)
    invoice = acc.add_invoice(
        customer, Decimal("10000"), currency_id=4, exchange_rate=Decimal("0.0067")
    )
    body = {"customer": {"id": str(customer)}, "currency": {"id": "4"}, **pay(invoice, "10000")}
    refused = call(connector, "PUT", "customerPayment/eid:jpy", body)
    assert error(refused)[:3] == (400, "USER_ERROR", "exchangeRate")
    body["exchangeRate"] = "0.0070"
    assert call(connector, "PUT", "customerPayment/eid:jpy", body).status_code == 204
    balances = acc.trial_balance(1)
    assert balances["301"] == Decimal("70.00")  # 10,000 JPY at 0.0070, in USD
    assert balances["119"] == 0  # closed in foreign and in base currency
    assert balances["117"] == Decimal("-3.00")  # realised gain: 10,000 x (0.0070 - 0.0067)
    clearing = [x for x in acc.gl_lines(1) if x.account == 301]
    assert (clearing[0].foreign_debit, clearing[0].currency) == (Decimal("10000"), 4)
    base = call(connector, "PUT", "customerPayment/eid:usd-rate", {**body, "currency": {"id": "1"}})
    assert error(base)[1] in ("USER_ERROR", "INVALID_CONTENT")  # USD invoice list has no JPY doc


def test_bhd_subsidiary_base_currency_rounds_to_three_places(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    acc = sim.account
    acc.set_base_currency(2, 6)  # the EU subsidiary now keeps its books in BHD
    customer = acc.add_customer("Manama WLL", currency_id=1, subsidiary_id=2)
    invoice = acc.add_invoice(
        customer, Decimal("10.01"), currency_id=1, subsidiary_id=2, exchange_rate=Decimal("0.37654")
    )
    body = {"customer": {"id": str(customer)}, **pay(invoice, "10.01"), "account": {"id": "311"}}
    refused = call(connector, "PUT", "customerPayment/eid:bhd", body)
    assert error(refused)[1:3] == ("USER_ERROR", "arAcct")  # two A/R accounts in subsidiary 2
    body["arAcct"] = {"id": "119"}
    body["exchangeRate"] = "0.37654"
    assert call(connector, "PUT", "customerPayment/eid:bhd", body).status_code == 204
    assert acc.trial_balance(2)["311"] == Decimal("3.769")  # 10.01 x 0.37654 = 3.7691654


def test_closed_and_locked_periods_refuse_postings(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    acc = sim.account
    october, november = acc.add_monthly_periods(date(2026, 10, 1), 2)
    (invoice,) = sim.seed_invoices(1, amount=Decimal("50.00"))
    customer = str(acc.transactions[invoice]["entity"])
    body = {"customer": {"id": customer}, "tranDate": "2026-10-31", **pay(invoice, "50.00")}
    acc.close_period(october)
    status, code, path, detail = error(call(connector, "PUT", "customerPayment/eid:p-closed", body))
    assert (status, code, path) == (400, "USER_ERROR", "tranDate")
    assert "Oct 2026 is closed" in detail
    acc.lock_period(november, ar=True)
    body["tranDate"] = "2026-11-02"
    assert (
        "Nov 2026 is locked"
        in error(call(connector, "PUT", "customerPayment/eid:p-closed", body))[3]
    )
    journal = {
        "subsidiary": {"id": "1"}, "approved": True, "tranDate": "2026-11-02",
        "line": {"items": [
            {"account": {"id": "302"}, "debit": "1"}, {"account": {"id": "303"}, "credit": "1"},
        ]},
    }  # fmt: skip
    assert call(connector, "PUT", "journalEntry/eid:je-arlock", journal).status_code == 204
    acc.lock_period(november, ar=True, all_=True)
    assert "locked" in error(call(connector, "PUT", "journalEntry/eid:je-all", journal))[3]
    body["tranDate"] = "2027-01-05"  # no period defined for it
    assert (
        "no accounting period"
        in error(call(connector, "PUT", "customerPayment/eid:p-closed", body))[3]
    )
    assert acc.payments_by_external_id() == {}
    assert acc.transactions[invoice]["foreignamountunpaid"] == Decimal("50.00")


def test_journal_credit_applied_through_the_payment_closes_the_invoice(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    acc = sim.account
    (invoice,) = sim.seed_invoices(1, amount=Decimal("100.00"))
    customer = str(acc.transactions[invoice]["entity"])
    write_off = {
        "subsidiary": {"id": "1"}, "approved": True,
        "line": {"items": [
            {"account": {"id": "304"}, "debit": "0.50"},
            {"account": {"id": "119"}, "credit": "0.50", "entity": {"id": customer}},
        ]},
    }  # fmt: skip
    assert call(connector, "PUT", "journalEntry/eid:wo-1", write_off).status_code == 204
    je = acc.get_record("journalEntry", "eid:wo-1")["id"]
    body = {"customer": {"id": customer}, **pay(invoice, "99.50")}
    body["apply"]["items"][0]["amount"] = "100.00"
    short = call(connector, "PUT", "customerPayment/eid:wo-pay", body)
    assert error(short)[:2] == (400, "USER_ERROR")  # 100.00 applied, only 99.50 paid
    body["credit"] = {"items": [{"doc": {"id": je}, "apply": True, "amount": "0.50"}]}
    assert call(connector, "PUT", "customerPayment/eid:wo-pay", body).status_code == 204
    assert acc.get_record("invoice", str(invoice))["status"]["refName"] == "Paid In Full"
    balances = acc.trial_balance(1)
    assert (balances["119"], balances["301"], balances["304"]) == (
        0,
        Decimal("99.50"),
        Decimal("0.50"),
    )
    unapprove = call(connector, "PATCH", "journalEntry/eid:wo-1", {"approved": False})
    assert error(unapprove)[1:3] == ("USER_ERROR", "approved")  # linked to the payment
    again = {"customer": {"id": customer}, "payment": "1", "credit": body["credit"]}
    assert (
        error(call(connector, "PUT", "customerPayment/eid:wo-twice", again))[2]
        == "credit.items[0].amount"
    )


def test_auto_apply_pays_the_oldest_invoices_first(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    acc = sim.account
    customer = acc.add_customer("Auto GmbH")
    older = acc.add_invoice(customer, Decimal("40.00"), tran_date=date(2026, 1, 5))
    newer = acc.add_invoice(customer, Decimal("40.00"), tran_date=date(2026, 2, 5))
    body = {"customer": {"id": str(customer)}, "payment": "50.00", "autoApply": True}
    assert call(connector, "PUT", "customerPayment/eid:auto", body).status_code == 204
    assert acc.transactions[older]["foreignamountunpaid"] == 0
    assert acc.transactions[newer]["foreignamountunpaid"] == Decimal("30.00")


def test_invoices_leave_open_outside_paybridge_and_lastmodified_moves(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    acc = sim.account
    stamp = datetime(2026, 1, 1, 12, 0, 0)
    cheque, voided, credited = sim.seed_invoices(3, amount=Decimal("10.00"), last_modified=stamp)
    acc.pay_invoice_outside(cheque)
    acc.void_invoice(voided)
    acc.credit_invoice(credited)
    states = {
        i: acc.get_record("invoice", str(i))["status"]["refName"]
        for i in (cheque, voided, credited)
    }
    assert states == {cheque: "Paid In Full", voided: "Voided", credited: "Paid In Full"}
    assert all(acc.transactions[i]["lastmodifieddate"] > stamp for i in (cheque, voided, credited))
    open_rows = suiteql(
        connector,
        "SELECT t.id AS id FROM transaction t WHERE t.type = 'CustInvc' AND t.status = 'A'",
    )
    assert open_rows == []
    balances = acc.trial_balance(1)
    assert balances["119"] == 0 and balances["116"] == Decimal("10.00")  # cheque undeposited
    assert {line.type for line in acc.gl_lines(1)} == {"CustInvc", "CustPymt", "CustCred"}
    late = {"customer": {"id": str(acc.transactions[voided]["entity"])}, **pay(voided, "10.00")}
    assert error(call(connector, "PUT", "customerPayment/eid:late", late))[1] == "INVALID_CONTENT"


def test_suiteql_timestamps_follow_the_time_zone_preference_across_dst() -> None:
    with NetSuiteSimulator(time_zone="America/Los_Angeles") as sim:
        customer = sim.account.add_customer("DST Inc")
        summer = sim.account.add_invoice(
            customer, Decimal("1"), last_modified=datetime(2026, 10, 31, 8, 30)
        )
        first = sim.account.add_invoice(
            customer, Decimal("1"), last_modified=datetime(2026, 11, 1, 8, 30)
        )
        second = sim.account.add_invoice(
            customer, Decimal("1"), last_modified=datetime(2026, 11, 1, 9, 30)
        )
        fmt = "YYYY-MM-DD HH24:MI:SS"
        rows = sim.account.run_suiteql(
            f"SELECT t.id AS id, TO_CHAR(t.lastmodifieddate, '{fmt}') AS stamp "
            "FROM transaction t ORDER BY t.id"
        )
        assert [r["stamp"] for r in rows] == [
            "2026-10-31 01:30:00",  # PDT, UTC-7
            "2026-11-01 01:30:00",  # PDT, first 01:30
            "2026-11-01 01:30:00",  # PST, the repeated hour
        ]
        after = sim.account.run_suiteql(
            "SELECT t.id AS id FROM transaction t WHERE t.lastmodifieddate > "
            f"TO_TIMESTAMP('2026-11-01 01:30:00', '{fmt}') ORDER BY t.id"
        )
        # The literal is read as the first 01:30 (PDT): only the PST row is after it.
        assert [int(r["id"]) for r in after] == [second]
        assert {summer, first} & {int(r["id"]) for r in after} == set()


def test_foreign_currency_journal_posts_in_base_and_keeps_foreign_amounts(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    lines = {
        "items": [
            {"account": {"id": "302"}, "debit": "10.01"},
            {"account": {"id": "303"}, "credit": "10.01"},
        ]
    }
    body = {"subsidiary": {"id": "1"}, "currency": {"id": "2"}, "approved": True, "line": lines}
    assert error(call(connector, "PUT", "journalEntry/eid:je-eur", body))[2] == "exchangeRate"
    body["exchangeRate"] = "1.0851"
    assert call(connector, "PUT", "journalEntry/eid:je-eur", body).status_code == 204
    posted = {line.account: line for line in sim.account.gl_lines(1)}
    assert (posted[302].debit, posted[302].foreign_debit) == (Decimal("10.86"), Decimal("10.01"))
    assert sum(sim.account.trial_balance(1).values()) == 0
    bank = {
        "items": [
            {"account": {"id": "101"}, "debit": "1"},  # a USD bank account
            {"account": {"id": "303"}, "credit": "1"},
        ]
    }
    wrong = call(connector, "PUT", "journalEntry/eid:je-bank", {**body, "line": bank})
    assert error(wrong)[1:3] == ("INVALID_CONTENT", "line.items[0].account")
    unknown = call(connector, "PUT", "journalEntry/eid:je-cur", {**body, "currency": {"id": "99"}})
    assert error(unknown)[1:3] == ("INVALID_CONTENT", "currency")
