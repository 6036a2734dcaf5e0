"""SAP simulator, posting side, over real HTTP: SOAP journal entries and clearing, business rules,
G/L and trial balance, internal/external amounts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests
from sap_sim_helpers import (
    CLEARING,
    CREATE,
    clearing_request,
    confirmation,
    cube,
    journal_entry,
    post_soap,
)

from simulators.sap import FaultConfig, SAPSimulator

TODAY = datetime.now(UTC).date()


@pytest.fixture
def sim() -> Iterator[SAPSimulator]:
    with SAPSimulator(clearing_delay_s=0.3) as simulator:
        yield simulator


def test_journal_entry_posts_and_answers_the_confirmation_shape(sim: SAPSimulator) -> None:
    answer = post_soap(sim, CREATE, journal_entry())
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/xml")
    result = confirmation(answer)
    assert result["AccountingDocument"] == "0100000000"
    assert result["FiscalYear"] == str(TODAY.year)
    assert result["Severity"] == "1"
    assert "Document posted successfully" in result["Notes"]
    balance = sim.ledger.trial_balance("1010", TODAY.year)
    assert balance == {"0011002000": Decimal("1190.00"), "0012100000": Decimal("-1190.00")}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"posting_date": date(TODAY.year - 2, 3, 15)}, "Posting period 003"),
        ({"customer": "17100009"}, "is blocked for posting"),
        ({"gl_account": "99999999"}, "G/L account 0099999999 is not defined in company code 1010"),
        ({"gl_amount": "1000.00"}, "Balance in transaction currency"),
        ({"company": "9999"}, "Company code 9999 is not defined"),
        ({"currency": "JPY", "company": "2910", "amount": "1000.5"}, "more than 0 decimal places"),
    ],
    ids=[
        "closed-period",
        "blocked-customer",
        "account-not-in-company",
        "unbalanced",
        "unknown-company",
        "too-many-decimals",
    ],
)
def test_business_errors_come_back_as_error_log_not_fault(
    sim: SAPSimulator, kwargs: dict[str, str], expected: str
) -> None:
    answer = post_soap(sim, CREATE, journal_entry(**kwargs))
    assert answer.status_code == 200
    result = confirmation(answer)
    assert result["AccountingDocument"] == "0000000000"
    assert result["Severity"] == "3"
    assert expected in result["Notes"]
    assert sim.ledger.committed_documents() == []


def test_unknown_element_is_rejected_as_a_soap_fault(sim: SAPSimulator) -> None:
    payload = journal_entry(header_extra="<InvoiceNumber>X</InvoiceNumber>")
    answer = post_soap(sim, CREATE, payload)
    assert answer.status_code == 500
    assert b"faultstring" in answer.content and b"InvoiceNumber" in answer.content
    assert sim.ledger.committed_documents() == []


def test_misplaced_element_is_rejected(sim: SAPSimulator) -> None:
    payload = journal_entry().replace(
        "<CreatedByUser>PAYBRIDGE</CreatedByUser><CompanyCode>1010</CompanyCode>",
        "<CompanyCode>1010</CompanyCode><CreatedByUser>PAYBRIDGE</CreatedByUser>",
    )
    answer = post_soap(sim, CREATE, payload)
    assert answer.status_code == 500
    assert b"CompanyCode" in answer.content


def test_too_long_reference_is_rejected(sim: SAPSimulator) -> None:
    assert post_soap(sim, CREATE, journal_entry(reference="R" * 17)).status_code == 500


def test_duplicate_reference_is_a_warning_by_default(sim: SAPSimulator) -> None:
    assert confirmation(post_soap(sim, CREATE, journal_entry()))["Severity"] == "1"
    second = confirmation(post_soap(sim, CREATE, journal_entry()))
    assert second["Severity"] == "2"
    assert "already been entered under reference SETTLE-1" in second["Notes"]


def test_jpy_and_three_decimal_currency_are_stored_shifted(sim: SAPSimulator) -> None:
    post_soap(sim, CREATE, journal_entry(company="2910", currency="JPY", amount="1000"))
    post_soap(sim, CREATE, journal_entry(company="4010", currency="KWD", amount="1.234"))
    jpy = sim.ledger.committed_documents("2910")[0].lines[0]
    kwd = sim.ledger.committed_documents("4010")[0].lines[0]
    assert (jpy.amount, kwd.amount) == (Decimal("10.00"), Decimal("12.34"))  # internal
    rows = cube(sim, **{"$filter": "FinancialAccountType eq 'S'", "$orderby": "CompanyCode"}).json()
    amounts = [r["AmountInTransactionCurrency"] for r in rows["d"]["results"]]
    assert amounts == ["1000", "1.234"]  # external again on the API
    assert sim.ledger.trial_balance("4010", TODAY.year)["0011002000"] == Decimal("1.234")


def test_bulk_clearing_is_asynchronous_and_read_back_through_the_cube(sim: SAPSimulator) -> None:
    invoice = sim.seed_open_item("1010", "17100001", Decimal("1190.00"), "EUR", reference="INV-1")
    post_soap(sim, CREATE, journal_entry())
    payment = sim.ledger.committed_documents("1010")[-1]
    answer = post_soap(
        sim,
        CLEARING,
        clearing_request(
            "1010",
            TODAY,
            [
                (invoice.fiscal_year, invoice.accounting_document, "1", "17100001"),
                (payment.fiscal_year, payment.number, "2", "17100001"),
            ],
        ),
    )
    assert answer.status_code == 202 and answer.content == b""
    item_filter = {
        "$filter": f"AccountingDocument eq '{invoice.accounting_document}' and "
        "FinancialAccountType eq 'D'"
    }
    assert cube(sim, **item_filter).json()["d"]["results"][0]["IsCleared"] is False
    sim.wait_for_clearings()
    row = cube(sim, **item_filter).json()["d"]["results"][0]
    assert row["IsCleared"] is True
    assert row["ClearingAccountingDocument"] == sim.clearing_log[0][1]


def test_clearing_applies_by_itself_after_the_delay(sim: SAPSimulator) -> None:
    invoice = sim.seed_open_item("1010", "17100001", Decimal("50.00"), "EUR", assignment="A")
    credit = sim.seed_open_item("1010", "17100001", Decimal("-50.00"), "EUR", assignment="A")
    post_soap(
        sim,
        CLEARING,
        clearing_request(
            "1010",
            TODAY,
            [(k.fiscal_year, k.accounting_document, "1", "17100001") for k in (invoice, credit)],
        ),
    )
    deadline = time.monotonic() + 5
    while not sim.clearing_log and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.clearing_log and sim.clearing_log[0][1].startswith("01")


def test_payment_above_the_open_item_does_not_clear(sim: SAPSimulator) -> None:
    invoice = sim.seed_open_item("1010", "17100001", Decimal("100.00"), "EUR")
    post_soap(sim, CREATE, journal_entry(amount="120.00"))
    payment = sim.ledger.committed_documents("1010")[-1]
    post_soap(
        sim,
        CLEARING,
        clearing_request(
            "1010",
            TODAY,
            [
                (invoice.fiscal_year, invoice.accounting_document, "1", "17100001"),
                (payment.fiscal_year, payment.number, "2", "17100001"),
            ],
        ),
    )
    sim.wait_for_clearings()
    assert "The difference is too large for clearing (-20.00 EUR)" in sim.clearing_log[0][1]
    assert sim.ledger.item_open(invoice)


def test_clearing_schema_rejects_unknown_elements(sim: SAPSimulator) -> None:
    payload = clearing_request("1010", TODAY, [("2026", "0100000000", "1", "17100001")])
    bad = payload.replace("<AccountType>D</AccountType>", "<AccountType>D</AccountType><Foo/>")
    assert post_soap(sim, CLEARING, bad).status_code == 500
    assert sim.clearing_log == []


def test_automatic_clearing_by_assignment(sim: SAPSimulator) -> None:
    invoice = sim.seed_open_item("1010", "17100001", Decimal("1190.00"), "EUR", assignment="INV-1")
    sim.seed_open_item("1010", "17100002", Decimal("10.00"), "EUR", assignment="OTHER")
    post_soap(sim, CREATE, journal_entry(assignment="INV-1"))
    cleared = sim.run_automatic_clearing("1010")
    assert len(cleared) == 1
    assert not sim.ledger.item_open(invoice)


def test_commit_then_drop_posts_but_loses_the_answer(sim: SAPSimulator) -> None:
    sim.set_faults(FaultConfig(commit_then_drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        post_soap(sim, CREATE, journal_entry(reference="LOST-1"))
    sim.set_faults(FaultConfig())
    rows = cube(sim, **{"$filter": "DocumentReferenceID eq 'LOST-1'"}).json()["d"]["results"]
    assert len(rows) == 2  # the document exists: the caller must look it up before retrying


def _with_local(payload: str, gl_local: str, customer_local: str) -> str:
    """Add AmountInCompanyCodeCurrency (EUR) after each transaction amount, in schema order."""
    first, _, rest = payload.partition("</AmountInTransactionCurrency>")
    second, _, tail = rest.partition("</AmountInTransactionCurrency>")
    local = '<AmountInCompanyCodeCurrency currencyCode="EUR">{}</AmountInCompanyCodeCurrency>'
    return (f"{first}</AmountInTransactionCurrency>{local.format(gl_local)}{second}"
            f"</AmountInTransactionCurrency>{local.format(customer_local)}{tail}")  # fmt: skip


def test_foreign_currency_needs_a_rate_or_company_code_amounts(sim: SAPSimulator) -> None:
    no_rate = confirmation(post_soap(sim, CREATE, journal_entry(currency="USD", amount="110.00")))
    assert no_rate["Severity"] == "3" and "Enter rate USD / EUR" in no_rate["Notes"]
    unbalanced = _with_local(journal_entry(currency="USD", amount="110.00"), "100.00", "-99.99")
    refused = confirmation(post_soap(sim, CREATE, unbalanced))
    assert "company code currency must be zero" in refused["Notes"]
    balanced = _with_local(journal_entry(currency="USD", amount="110.00"), "100.00", "-100.00")
    assert confirmation(post_soap(sim, CREATE, balanced))["Severity"] == "1"
    assert sim.ledger.trial_balance("1010", TODAY.year)["0011002000"] == Decimal("100.00")


def test_exchange_rate_in_the_header_converts_to_company_code_currency(sim: SAPSimulator) -> None:
    payload = journal_entry(currency="USD", amount="110.00")
    payload = payload.replace(
        "</PostingDate>", "</PostingDate><ExchangeRate>0.90000</ExchangeRate>", 1
    )
    assert confirmation(post_soap(sim, CREATE, payload))["Severity"] == "1"
    lines = sim.ledger.gl_lines("1010")
    assert [(x["amount"], x["local_amount"]) for x in lines] == [
        (Decimal("110.00"), Decimal("99.00")), (Decimal("-110.00"), Decimal("-99.00")),
    ]  # fmt: skip


def test_gl_lines_and_item_view_tie_out(sim: SAPSimulator) -> None:
    invoice = sim.seed_open_item("1010", "17100001", Decimal("1190.00"), "EUR", "INV-1", "INV-1")
    post_soap(sim, CREATE, journal_entry())
    lines = sim.ledger.gl_lines("1010")
    assert len(lines) == 4 and sum(x["local_amount"] for x in lines) == 0
    assert {x["gl_account"] for x in lines if x["customer"]} == {"0012100000"}
    item = sim.item(invoice)
    assert (
        item is not None and item["IsCleared"] is False and item["AssignmentReference"] == "INV-1"
    )


def test_test_run_on_the_request_level_posts_nothing_and_uses_no_number(sim: SAPSimulator) -> None:
    bulk_header_end = "</CreationDateTime></MessageHeader>"  # the first one: the bulk header
    test_run = journal_entry().replace(
        bulk_header_end,
        "</CreationDateTime><TestDataIndicator>true</TestDataIndicator></MessageHeader>",
        1,
    )
    checked = confirmation(post_soap(sim, CREATE, test_run))
    assert checked["AccountingDocument"] == "0000000000" and checked["Severity"] == "1"
    assert "Document check without errors" in checked["Notes"]
    assert sim.ledger.committed_documents() == []
    first = confirmation(post_soap(sim, CREATE, journal_entry()))
    assert first["AccountingDocument"] == "0100000000"  # the test run used no number
    blocked = test_run.replace("<Debtor>17100001</Debtor>", "<Debtor>17100009</Debtor>")
    assert confirmation(post_soap(sim, CREATE, blocked))["Severity"] == "3"
