"""The simulator pages SuiteQL as documented: limit <= 1000, offset a multiple of limit,
items/hasMore/count/offset/totalResults/links, at most 1000 pages / 100,000 rows per query."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from paybridge_connectors.erp.protocol import ErpRejectedError

from simulators.netsuite import NetSuiteSimulator

ORDERED = (
    "SELECT t.id AS id, t.foreigntotal AS total FROM transaction t "
    "WHERE t.type = 'CustInvc' ORDER BY t.id"
)


def _page(conn: NetSuiteConnector, limit: int, offset: int, q: str = ORDERED) -> dict[str, Any]:
    return conn.transport.run(conn.transport.suiteql(q, limit, offset))


def test_pages_follow_documented_fields_and_links(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    seeded = sim.seed_invoices(2345)
    pages = [_page(connector, 1000, offset) for offset in (0, 1000, 2000)]
    assert [p["count"] for p in pages] == [1000, 1000, 345]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    assert [p["offset"] for p in pages] == [0, 1000, 2000]
    assert {p["totalResults"] for p in pages} == {2345}
    rels = [{link["rel"]: link["href"] for link in p["links"]} for p in pages]
    assert rels[0]["next"].endswith("limit=1000&offset=1000") and "previous" not in rels[0]
    assert rels[1]["previous"].endswith("offset=0") and rels[1]["next"].endswith("offset=2000")
    assert "next" not in rels[2] and rels[2]["last"].endswith("offset=2000")
    ids = [int(item["id"]) for p in pages for item in p["items"]]
    assert ids == sorted(seeded)
    # Values come back as text (exact), and every item carries its links array.
    assert all(isinstance(item["total"], str) and "links" in item for item in pages[0]["items"])
    assert (
        Decimal(pages[0]["items"][0]["total"]) == sim.account.transactions[ids[0]]["foreigntotal"]
    )


def test_small_pages_agree_with_large_pages(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    sim.seed_invoices(230)
    big = [item["id"] for item in _page(connector, 1000, 0)["items"]]
    small: list[str] = []
    offset = 0
    while True:
        page = _page(connector, 25, offset)
        small.extend(item["id"] for item in page["items"])
        if not page["hasMore"]:
            break
        offset += 25
    assert small == big and len(big) == 230


@pytest.mark.parametrize(
    ("limit", "offset", "path"),
    [(1001, 0, "limit"), (0, 0, "limit"), (100, 150, "offset")],
)
def test_invalid_paging_is_a_400_in_netsuite_shape(
    connector: NetSuiteConnector, limit: int, offset: int, path: str
) -> None:
    with pytest.raises(ErpRejectedError) as info:
        _page(connector, limit, offset)
    assert info.value.status == 400
    assert info.value.code == "INVALID_PARAMETER"
    assert info.value.path == path


def test_query_is_capped_at_1000_pages(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    # 1000 pages of 3 rows: the cap rule (min(100,000, 1000 pages)) without seeding 100k rows.
    sim.seed_invoices(3005)
    last = _page(connector, 3, 2997)
    assert last["totalResults"] == 3000 and last["hasMore"] is False and last["count"] == 3
    with pytest.raises(ErpRejectedError) as info:
        _page(connector, 3, 3000)
    assert info.value.code == "INVALID_PARAMETER"


def test_connector_reopens_a_window_at_the_row_cap(sim: NetSuiteSimulator, ns_config) -> None:
    ids = sim.seed_invoices(3005)
    with NetSuiteConnector(ns_config(sim, page_size=3)) as conn:
        pages = list(conn.fetch_open_invoices())
    fetched = [inv.invoice_id for page in pages for inv in page.invoices]
    assert fetched == [str(i) for i in sorted(ids)]  # nothing lost, nothing twice
    # 1000 pages in the first window + 2 in the second (1 row + the empty end).
    assert sum(p.requests_used for p in pages) == 1000 + 2


def test_suiteql_needs_prefer_transient(
    sim: NetSuiteSimulator, connector: NetSuiteConnector
) -> None:
    async def without_header() -> Any:
        return await connector.transport.api.request(
            "POST", "/query/v1/suiteql", content=b'{"q": "SELECT cur.id FROM currency cur"}'
        )

    response = connector.transport.run(without_header())
    assert response.status_code == 400
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_HEADER"


def test_rows_leaving_the_result_mid_sync_do_not_make_us_skip_any(
    sim: NetSuiteSimulator, ns_config
) -> None:
    ids = sim.seed_invoices(35)
    with NetSuiteConnector(ns_config(sim, page_size=10)) as conn:
        pages = conn.fetch_open_invoices()
        first = next(pages)
        # An invoice of page 1 gets paid in NetSuite: plain offset paging would now skip a row.
        paid = sim.account.transactions[ids[2]]
        sim.account.create(
            "customerPayment",
            {
                "customer": {"id": str(paid["entity"])},
                "payment": paid["foreigntotal"],
                "apply": {
                    "items": [{"doc": {"id": str(ids[2])}, "apply": True,
                               "amount": paid["foreigntotal"]}]
                },
            },
        )  # fmt: skip
        rest = list(pages)
    fetched = [inv.invoice_id for page in [first, *rest] for inv in page.invoices]
    assert fetched == [str(i) for i in sorted(ids)]
