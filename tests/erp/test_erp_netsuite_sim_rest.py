"""The NetSuite simulator's REST rules over real HTTP (signed by the netsuite package).

Field-name validation, sublists as links, keyed/unkeyed sublist merging, Undeposited Funds,
account/subsidiary validation, journal approval and the concurrency limit.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector

from simulators.netsuite import NetSuiteSimulator


def call(
    conn: NetSuiteConnector,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A raw signed request; the package sends ``X-NetSuite-PropertyNameValidation: error``."""
    kwargs: dict[str, Any] = {"headers": headers or {}, "params": params or {}}
    if body is not None:
        kwargs["content"] = json.dumps(body, default=str).encode()
    return conn.transport.run(conn.transport.api.request(method, f"/record/v1/{path}", **kwargs))


def error(response: httpx.Response) -> tuple[int, str, str | None, str]:
    detail = response.json()["o:errorDetails"][0]
    return response.status_code, detail["o:errorCode"], detail.get("o:errorPath"), detail["detail"]


def payment_body(sim: NetSuiteSimulator, invoice: int, **extra: Any) -> dict[str, Any]:
    row = sim.account.transactions[invoice]
    return {
        "customer": {"id": str(row["entity"])},
        "payment": str(row["foreignamountunpaid"]),
        "apply": {
            "items": [{"doc": {"id": str(invoice)}, "apply": True, "amount": "40.00"}],
        },
        **extra,
    }


def test_unknown_field_is_refused_with_the_error_header_and_ignored_without(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    (invoice,) = sim.seed_invoices(1, amount=Decimal("100.00"))
    misspelt = payment_body(sim, invoice, undepFund=False)
    refused = call(connector, "PUT", "customerPayment/eid:typo-1", misspelt)
    assert error(refused)[:3] == (400, "INVALID_CONTENT", "undepFund")
    assert sim.account.payments_by_external_id() == {}
    bad_line = payment_body(sim, invoice)
    bad_line["apply"]["items"][0]["amout"] = "1"
    assert error(call(connector, "PUT", "customerPayment/eid:typo-2", bad_line))[2] == (
        "apply.items[0].amout"
    )
    lax = call(
        connector,
        "PUT",
        "customerPayment/eid:typo-3",
        misspelt,
        headers={"X-NetSuite-PropertyNameValidation": "Warning"},
    )
    assert lax.status_code == 204
    # The misspelt flag was dropped, so the money went to Undeposited Funds.
    assert sim.account.trial_balance(1)["116"] == Decimal("100.00")


def test_payment_without_undepfunds_false_lands_in_undeposited_funds(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    a, b = sim.seed_invoices(2, customers=1, amount=Decimal("100.00"))
    body = payment_body(sim, a, account={"id": "301"})
    assert call(connector, "PUT", "customerPayment/eid:undep-1", body).status_code == 204
    deposited = payment_body(sim, b, account={"id": "301"}, undepFunds=False)
    assert call(connector, "PUT", "customerPayment/eid:undep-2", deposited).status_code == 204
    balances = sim.account.trial_balance(1)
    assert balances["116"] == Decimal("100.00")  # account 301 ignored without undepFunds:false
    assert balances["301"] == Decimal("101.00")
    got = call(connector, "GET", "customerPayment/eid:undep-1").json()
    assert got["undepFunds"] == {"id": "T"} and "account" not in got
    missing = payment_body(sim, b, undepFunds={"id": "F"})
    assert error(call(connector, "PUT", "customerPayment/eid:undep-3", missing))[1:3] == (
        "USER_ERROR",
        "account",
    )


def test_accounts_are_checked_for_type_and_subsidiary(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    (invoice,) = sim.seed_invoices(1)
    cases = {
        "311": ({"account": {"id": "311"}, "undepFunds": False}, "account"),  # subsidiary 2's
        "304": ({"account": {"id": "304"}, "undepFunds": False}, "account"),  # an expense
        "102": ({"account": {"id": "102"}, "undepFunds": False}, "account"),  # EUR bank
        "301": ({"arAcct": {"id": "301"}}, "arAcct"),  # not A/R
        "121": ({"arAcct": {"id": "121"}}, "arAcct"),  # A/R of subsidiary 2
    }
    for account, (extra, path) in cases.items():
        response = call(
            connector,
            "PUT",
            f"customerPayment/eid:acct-{account}",
            payment_body(sim, invoice, **extra),
        )
        status, code, err_path, detail = error(response)
        assert (status, code, err_path) == (400, "INVALID_CONTENT", path), account
        assert f"Invalid Field Value {account}" in detail
    assert sim.account.payments_by_external_id() == {}
    assert sim.account.transactions[invoice]["foreignamountunpaid"] == Decimal("100.00")


def test_sublists_are_links_unless_expanded_and_the_sublist_resource_lists_them(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    (invoice,) = sim.seed_invoices(1)
    assert (
        call(connector, "PUT", "customerPayment/eid:links", payment_body(sim, invoice)).status_code
        == 204
    )
    plain = call(connector, "GET", "customerPayment/eid:links").json()
    assert set(plain["apply"]) == {"links"} and plain["apply"]["links"][0]["rel"] == "self"
    assert plain["apply"]["links"][0]["href"].endswith(f"/customerPayment/{plain['id']}/apply")
    expanded = call(
        connector, "GET", "customerPayment/eid:links", params={"expandSubResources": "true"}
    ).json()
    assert expanded["apply"]["items"] == [
        {"doc": {"id": str(invoice)}, "apply": True, "amount": 40.0}
    ]
    listed = call(connector, "GET", f"customerPayment/{plain['id']}/apply").json()
    assert listed["count"] == 1 and listed["items"][0]["doc"] == {"id": str(invoice)}


def test_keyed_apply_merges_by_doc_and_unkeyed_journal_lines_append_unless_replaced(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    a, b = sim.seed_invoices(2, customers=1, amount=Decimal("100.00"))
    body = payment_body(sim, a, payment="200.00")
    assert call(connector, "PUT", "customerPayment/eid:merge", body).status_code == 204
    second = {"apply": {"items": [{"doc": {"id": str(b)}, "apply": True, "amount": "30"}]}}
    assert call(connector, "PATCH", "customerPayment/eid:merge", second).status_code == 204
    apps = sim.account.get_record("customerPayment", "eid:merge")["apply"]["items"]
    assert {(x["doc"]["id"], x["amount"]) for x in apps} == {
        (str(a), Decimal("40.00")),
        (str(b), Decimal("30")),
    }
    assert (
        call(
            connector, "PATCH", "customerPayment/eid:merge", second, params={"replace": "apply"}
        ).status_code
        == 204
    )
    apps = sim.account.get_record("customerPayment", "eid:merge")["apply"]["items"]
    assert [x["doc"]["id"] for x in apps] == [str(b)]
    assert sim.account.transactions[a]["foreignamountunpaid"] == Decimal("100.00")

    journal = {
        "subsidiary": {"id": "1"},
        "approved": True,
        "line": {
            "items": [
                {"account": {"id": "302"}, "debit": "5"},
                {"account": {"id": "303"}, "credit": "5"},
            ]
        },
    }
    assert call(connector, "PUT", "journalEntry/eid:je-merge", journal).status_code == 204
    assert call(connector, "PUT", "journalEntry/eid:je-merge", journal).status_code == 204
    assert len(sim.account.get_record("journalEntry", "eid:je-merge")["line"]["items"]) == 4
    assert sim.account.trial_balance(1)["302"] == Decimal("10")
    assert (
        call(
            connector, "PUT", "journalEntry/eid:je-merge", journal, params={"replace": "line"}
        ).status_code
        == 204
    )
    assert len(sim.account.get_record("journalEntry", "eid:je-merge")["line"]["items"]) == 2
    assert sim.account.trial_balance(1)["302"] == Decimal("5")


def test_unapproved_journals_do_not_post_and_ar_lines_need_a_customer(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    lines = {
        "items": [
            {"account": {"id": "302"}, "debit": "7"},
            {"account": {"id": "303"}, "credit": "7"},
        ]
    }
    assert (
        call(
            connector,
            "PUT",
            "journalEntry/eid:je-draft",
            {"subsidiary": {"id": "1"}, "line": lines},
        ).status_code
        == 204
    )
    assert sim.account.gl_lines(1) == []
    draft = sim.account.get_record("journalEntry", "eid:je-draft")
    assert draft["approved"] is False and draft["approvalStatus"] == {"id": "1"}
    assert (
        call(connector, "PATCH", "journalEntry/eid:je-draft", {"approved": True}).status_code == 204
    )
    assert sim.account.trial_balance(1) == {"302": Decimal("7"), "303": Decimal("-7")}
    ar_line = {
        "items": [
            {"account": {"id": "302"}, "debit": "7"},
            {"account": {"id": "119"}, "credit": "7"},
        ]
    }
    refused = call(
        connector,
        "PUT",
        "journalEntry/eid:je-ar",
        {"subsidiary": {"id": "1"}, "approved": True, "line": ar_line},
    )
    assert error(refused)[1:3] == ("USER_ERROR", "line.items[1].entity")
    no_sub = call(connector, "PUT", "journalEntry/eid:je-nosub", {"approved": True, "line": lines})
    assert error(no_sub)[1:3] == ("USER_ERROR", "subsidiary")
    other_sub = call(
        connector,
        "PUT",
        "journalEntry/eid:je-sub2",
        {"subsidiary": {"id": "2"}, "approved": True, "line": lines},
    )
    assert error(other_sub)[1:3] == ("INVALID_CONTENT", "line.items[0].account")


def test_concurrency_limit_follows_tier_and_suitecloud_plus_licences() -> None:
    assert NetSuiteSimulator().concurrency_limit == 15  # Standard tier 5 + one licence
    assert NetSuiteSimulator(suitecloud_plus_licenses=0).concurrency_limit == 5
    assert (
        NetSuiteSimulator(service_tier_base=15, suitecloud_plus_licenses=2).concurrency_limit == 35
    )
    assert NetSuiteSimulator(concurrency_limit=3).concurrency_limit == 3
