"""SAP simulator, OData side, over real HTTP: auth, CSRF, $filter, paging, JSON shapes, faults."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import requests
from sap_sim_helpers import CUBE, cube, session

from simulators.sap import READ_ONLY_PASSWORD, READ_ONLY_USER, FaultConfig, SAPSimulator

OPEN_D = "FinancialAccountType eq 'D' and IsCleared eq false and CompanyCode eq '1010'"


@pytest.fixture
def sim() -> Iterator[SAPSimulator]:
    with SAPSimulator(page_size=3) as simulator:
        for i in range(7):
            simulator.seed_open_item(
                "1010",
                "17100001",
                Decimal("100.00") + i,
                "EUR",
                reference=f"INV-{i}",
                assignment=f"INV-{i}",
                posting_date=date(2026, 5, 1 + i),
            )
        simulator.seed_open_item("2910", "17100002", Decimal("1000"), "JPY", reference="JP-1")
        yield simulator


def test_basic_auth_and_client_are_required(sim: SAPSimulator) -> None:
    assert cube(sim, session(password="wrong")).status_code == 401
    wrong_client = session()
    wrong_client.headers["sap-client"] = "200"
    answer = cube(sim, wrong_client)
    assert answer.status_code == 401
    assert "SAP NetWeaver Application Server" in answer.headers["WWW-Authenticate"]
    query_client = requests.get(
        f"{sim.base_url}{CUBE}$metadata",
        params={"sap-client": "100"},
        auth=("PAYBRIDGE", "sim-password"),
    )
    assert query_client.status_code == 200


def test_metadata_is_served_and_names_the_entity_set(sim: SAPSimulator) -> None:
    answer = session().get(f"{sim.base_url}{CUBE}$metadata")
    assert answer.status_code == 200
    assert b'EntitySet Name="A_OperationalAcctgDocItemCube"' in answer.content
    assert b'Name="IsCleared" Type="Edm.Boolean"' in answer.content


def test_filter_count_paging_and_next_link(sim: SAPSimulator) -> None:
    http = session()
    first = cube(sim, http, **{"$filter": OPEN_D, "$inlinecount": "allpages"}).json()["d"]
    assert first["__count"] == "7"  # a string, as the Gateway sends it
    assert len(first["results"]) == 3
    seen = [row["AccountingDocument"] for row in first["results"]]
    next_url = first["__next"]
    while next_url:
        page = http.get(next_url).json()["d"]
        seen += [row["AccountingDocument"] for row in page["results"]]
        next_url = page.get("__next")
    assert len(seen) == len(set(seen)) == 7


def test_top_and_skip_limit_the_result(sim: SAPSimulator) -> None:
    page = cube(sim, **{"$filter": OPEN_D, "$top": "2", "$skip": "5"}).json()["d"]
    assert len(page["results"]) == 2
    assert "__next" not in page
    empty = cube(sim, **{"$filter": OPEN_D, "$top": "0", "$inlinecount": "allpages"}).json()["d"]
    assert empty["results"] == [] and empty["__count"] == "7" and "__next" not in empty


def test_json_shapes_dates_decimals_and_select(sim: SAPSimulator) -> None:
    rows = cube(
        sim,
        **{
            "$filter": "CompanyCode eq '2910' and FinancialAccountType eq 'D'",
            "$select": "AccountingDocument,AmountInTransactionCurrency,PostingDate,IsCleared",
        },
    ).json()["d"]["results"]
    assert len(rows) == 1
    row = rows[0]
    assert set(row) == {
        "__metadata",
        "AccountingDocument",
        "AmountInTransactionCurrency",
        "PostingDate",
        "IsCleared",
    }
    assert row["AmountInTransactionCurrency"] == "1000"  # external JPY, decimal as string
    assert row["PostingDate"].startswith("/Date(") and row["PostingDate"].endswith(")/")
    assert row["IsCleared"] is False


def test_datetime_filter_and_orderby(sim: SAPSimulator) -> None:
    rows = cube(
        sim,
        **{
            "$filter": f"{OPEN_D} and PostingDate ge datetime'2026-05-05T00:00:00'",
            "$orderby": "PostingDate desc",
        },
    ).json()["d"]["results"]
    assert [r["AssignmentReference"] for r in rows] == ["INV-6", "INV-5", "INV-4"]


def test_unknown_property_is_a_gateway_error(sim: SAPSimulator) -> None:
    answer = cube(sim, **{"$filter": "InvoiceNumber eq 'X'"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "innererror"}
    assert error["message"]["lang"] == "en"
    assert "InvoiceNumber" in error["message"]["value"]
    assert cube(sim, **{"$select": "Nope"}).status_code == 400


def test_csrf_token_fetch_and_validation(sim: SAPSimulator) -> None:
    http = session()
    fetched = http.get(f"{sim.base_url}{CUBE}", headers={"X-CSRF-Token": "Fetch"})
    token = fetched.headers["x-csrf-token"]
    assert token and http.cookies["sap-XSRF_SIM_100"] == token
    forged = session()
    forged_answer = forged.post(
        f"{sim.base_url}{CUBE}A_OperationalAcctgDocItemCube", json={},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert forged_answer.status_code == 403  # a token without its cookie is not enough
    refused = session().post(f"{sim.base_url}{CUBE}A_OperationalAcctgDocItemCube", json={})
    assert refused.status_code == 403
    assert refused.headers["x-csrf-token"] == "Required"
    with_token = http.post(
        f"{sim.base_url}{CUBE}A_OperationalAcctgDocItemCube",
        json={},
        headers={"X-CSRF-Token": token},
    )
    assert with_token.status_code == 405  # token accepted; the cube itself is read-only


def test_read_only_user_reads_but_cannot_post(sim: SAPSimulator) -> None:
    reader = session(READ_ONLY_USER, READ_ONLY_PASSWORD)
    assert cube(sim, reader).status_code == 200
    denied = reader.post(
        f"{sim.base_url}/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi", data=b"<x/>"
    )
    assert denied.status_code == 403


def test_injected_5xx_and_429(sim: SAPSimulator) -> None:
    sim.set_faults(FaultConfig(error_5xx_rate=1.0))
    answer = cube(sim)
    assert answer.status_code in (500, 503)
    assert "error" in answer.json()
    sim.set_faults(FaultConfig(rate_429=1.0, retry_after_s=2))
    limited = cube(sim)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    sim.set_faults(FaultConfig())
    assert cube(sim).status_code == 200


def test_commit_then_drop_closes_the_connection_without_an_answer(sim: SAPSimulator) -> None:
    sim.set_faults(FaultConfig(commit_then_drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        cube(sim)
    assert sim.server.counters.dropped_after_commit == 1
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5):
        pass  # the server still accepts connections
