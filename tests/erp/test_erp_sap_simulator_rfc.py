"""SAP simulator, ECC side: BAPIs over SOAP-RFC, the LUW per session, BAPIRET2, ALPHA, amounts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests
from sap_sim_helpers import (
    RFC,
    bapi_post_body,
    rfc_call,
    rfc_export,
    rfc_return,
    session,
    soap_envelope,
)

from simulators.sap import SAPSimulator


@pytest.fixture
def today() -> date:
    """The day the test runs on, given to every posting it later looks for: a suite that runs
    across midnight UTC otherwise posts on one day and asks about the other (seen in CI)."""
    return datetime.now(UTC).date()


@pytest.fixture
def sim() -> Iterator[SAPSimulator]:
    with SAPSimulator(system="ECC", session_idle_s=0.5) as simulator:
        yield simulator


def call(
    sim: SAPSimulator,
    function: str,
    body: str,
    http: requests.Session | None = None,
    command: str = "",
) -> requests.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if command:
        headers["sap-sessioncmd"] = command
    return (http or session()).post(
        f"{sim.base_url}{RFC}", data=soap_envelope(rfc_call(function, body)), headers=headers
    )


def test_check_then_post_then_commit_in_one_session(sim: SAPSimulator, today: date) -> None:
    http = session()
    body = bapi_post_body(posting_date=today)
    checked = rfc_return(call(sim, "BAPI_ACC_DOCUMENT_CHECK", body, http, "open"))
    assert [(r["TYPE"], r["ID"], r["NUMBER"]) for r in checked] == [("S", "RW", "614")]
    assert "sap-contextid" in http.cookies
    posted = call(sim, "BAPI_ACC_DOCUMENT_POST", body, http)
    key = rfc_export(posted, "OBJ_KEY")
    assert key == f"01000000001010{today.year}"
    assert rfc_export(posted, "OBJ_TYPE") == "BKPFF"
    assert rfc_return(posted)[-1]["NUMBER"] == "605"
    assert sim.ledger.committed_documents() == []  # not visible before the commit
    call(sim, "BAPI_TRANSACTION_COMMIT", "<WAIT>X</WAIT>", http, "close")
    assert [d.number for d in sim.ledger.committed_documents()] == ["0100000000"]


def test_post_without_commit_is_rolled_back_when_the_call_ends(sim: SAPSimulator) -> None:
    posted = call(sim, "BAPI_ACC_DOCUMENT_POST", bapi_post_body())  # stateless: its own session
    assert rfc_return(posted)[-1]["TYPE"] == "S"
    call(sim, "BAPI_TRANSACTION_COMMIT", "<WAIT>X</WAIT>")  # another session: commits nothing
    assert sim.ledger.committed_documents() == []


def test_idle_session_is_rolled_back_and_its_cookie_refused(sim: SAPSimulator) -> None:
    http = session()
    call(sim, "BAPI_ACC_DOCUMENT_POST", bapi_post_body(), http, "open")
    time.sleep(0.7)
    late = call(sim, "BAPI_TRANSACTION_COMMIT", "<WAIT>X</WAIT>", http)
    assert late.status_code == 500 and b"no longer exists" in late.content
    assert sim.ledger.committed_documents() == []


def test_business_errors_are_return_rows_not_faults(sim: SAPSimulator, today: date) -> None:
    sim.ledger.set_period_open("1010", today.year, today.month, open=False)
    body = bapi_post_body(customer="0017100009", posting_date=today)
    answer = call(sim, "BAPI_ACC_DOCUMENT_POST", body)
    assert answer.status_code == 200
    rows = rfc_return(answer)
    assert rows[0]["TYPE"] == "E" and rows[0]["MESSAGE"].startswith("Error in document")
    texts = " | ".join(r["MESSAGE"] for r in rows)
    assert "is not open" in texts and "blocked for posting" in texts
    assert rfc_export(answer, "OBJ_KEY") == "$"


def test_no_alpha_conversion_over_rfc(sim: SAPSimulator) -> None:
    rows = rfc_return(call(sim, "BAPI_ACC_DOCUMENT_CHECK", bapi_post_body(gl_account="11002000")))
    assert any("G/L account 11002000 is not defined" in r["MESSAGE"] for r in rows)


def test_field_lengths_and_unknown_fields_are_faults(sim: SAPSimulator) -> None:
    too_long = call(sim, "BAPI_ACC_DOCUMENT_CHECK", bapi_post_body(reference="R" * 17))
    assert too_long.status_code == 500 and b"REF_DOC_NO" in too_long.content
    unknown = bapi_post_body().replace("<BUS_ACT>", "<INVOICE_NO>1</INVOICE_NO><BUS_ACT>")
    assert call(sim, "BAPI_ACC_DOCUMENT_CHECK", unknown).status_code == 500
    decimals = bapi_post_body(amount="1.23456")  # BAPICURR is DEC 23,4
    assert call(sim, "BAPI_ACC_DOCUMENT_CHECK", decimals).status_code == 500


def test_jpy_amount_is_external_in_the_bapi(sim: SAPSimulator, today: date) -> None:
    http = session()
    body = bapi_post_body(company="2910", currency="JPY", amount="1000", posting_date=today)
    call(sim, "BAPI_ACC_DOCUMENT_POST", body, http, "open")
    call(sim, "BAPI_TRANSACTION_COMMIT", "<WAIT>X</WAIT>", http, "close")
    line = sim.ledger.committed_documents("2910")[0].lines[0]
    assert line.amount == Decimal("10.00")  # internal
    items = call(
        sim,
        "BAPI_AR_ACC_GETOPENITEMS",
        f"<COMPANYCODE>2910</COMPANYCODE><CUSTOMER>0017100001</CUSTOMER><KEYDATE>{today}</KEYDATE>",
    )
    from lxml import etree

    rows = etree.fromstring(items.content).findall(".//LINEITEMS/item")
    assert [r.findtext("AMT_DOCCUR") for r in rows] == ["1000"]
    assert rows[0].findtext("ALLOC_NMBR") == "INV-1"


def test_duplicate_object_key_is_refused(sim: SAPSimulator) -> None:
    body = bapi_post_body().replace(
        "<BUS_ACT>", "<OBJ_TYPE>BKPFF</OBJ_TYPE><OBJ_KEY>PB-1</OBJ_KEY><BUS_ACT>"
    )
    http = session()
    call(sim, "BAPI_ACC_DOCUMENT_POST", body, http, "open")
    call(sim, "BAPI_TRANSACTION_COMMIT", "<WAIT>X</WAIT>", http, "close")
    again = rfc_return(call(sim, "BAPI_ACC_DOCUMENT_CHECK", body))
    assert any(r["ID"] == "RW" and r["NUMBER"] == "021" for r in again)


def test_getopenitems_unknown_customer(sim: SAPSimulator) -> None:
    answer = call(
        sim,
        "BAPI_AR_ACC_GETOPENITEMS",
        "<COMPANYCODE>1010</COMPANYCODE><CUSTOMER>17100001</CUSTOMER>",
    )
    from lxml import etree

    assert etree.fromstring(answer.content).findtext(".//RETURN/TYPE") == "E"


def test_statement_shows_items_cleared_by_automatic_clearing(
    sim: SAPSimulator, today: date
) -> None:
    invoice = sim.seed_open_item(
        "1010", "17100001", Decimal("1190.00"), "EUR", assignment="INV-1", posting_date=today
    )
    http = session()
    call(sim, "BAPI_ACC_DOCUMENT_POST", bapi_post_body(posting_date=today), http, "open")
    call(sim, "BAPI_TRANSACTION_COMMIT", "<WAIT>X</WAIT>", http, "close")
    assert len(sim.run_automatic_clearing("1010")) == 1
    customer = "<COMPANYCODE>1010</COMPANYCODE><CUSTOMER>0017100001</CUSTOMER>"
    from lxml import etree

    open_items = etree.fromstring(call(sim, "BAPI_AR_ACC_GETOPENITEMS", customer).content)
    assert open_items.findall(".//LINEITEMS/item") == []
    statement = etree.fromstring(
        call(
            sim,
            "BAPI_AR_ACC_GETSTATEMENT",
            f"{customer}<DATE_FROM>{today.year}-01-01</DATE_FROM><DATE_TO>{today}</DATE_TO>",
        ).content
    )
    rows = statement.findall(".//LINEITEMS/item")
    assert {r.findtext("DOC_NO") for r in rows} == {invoice.accounting_document, "0100000001"}
    assert all(r.findtext("CLR_DOC_NO") and r.findtext("CLEAR_DATE") for r in rows)
    assert {r.findtext("REF_DOC_NO") for r in rows} >= {"SETTLE-1"}


def test_session_command_as_url_parameter(sim: SAPSimulator) -> None:
    http = session()
    opened = http.post(
        f"{sim.base_url}{RFC}",
        params={"sap-sessioncmd": "open"},
        data=soap_envelope(rfc_call("BAPI_ACC_DOCUMENT_POST", bapi_post_body())),
        headers={"Content-Type": "text/xml"},
    )
    assert opened.status_code == 200 and "sap-contextid" in http.cookies
    call(sim, "BAPI_TRANSACTION_COMMIT", "<WAIT>X</WAIT>", http, "close")
    assert len(sim.ledger.committed_documents()) == 1
