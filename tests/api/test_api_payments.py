"""Idempotency-Key, keys and scopes, the filtered and paged list (API orders and ERP invoices'
requests alike), cancel, and the committed OpenAPI document, over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

from api_server import ApiServer, serve
from paybridge_connectors.rates.fixed import FixedRateSource

from paybridge.access.api_keys import revoke_api_key
from paybridge.api.app import OPENAPI_FILE, openapi_text
from paybridge.config import ApiConfig
from paybridge.config.merchant_keys import merchant_wallet
from paybridge.invoices import InvoiceRecord
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction
from paybridge.store.models import ApiKey, PaymentRequest

CREATE = "/v1/payments/create-order"
ORDER = {"amount": "25.5", "currency": "USDC", "network": "anvil", "metadata": {"sku": "A1"}}


def _count(server: ApiServer) -> int:
    with transaction(server.engine) as session:
        return session.query(PaymentRequest).count()


def test_idempotency_key_same_body_same_payment_other_body_409(api: ApiServer) -> None:
    key = api.key("payments:write")
    with api.client(key) as http:
        first = http.post(
            "/v1/payments/create-order", json=ORDER, headers={"Idempotency-Key": "k1"}
        )
        assert first.status_code == 201
        # same meaning, other spelling (key order, trailing zero): the same payment
        same = {"metadata": {"sku": "A1"}, "network": "anvil", "currency": "USDC", "amount": 25.50}
        again = http.post("/v1/payments/create-order", json=same, headers={"Idempotency-Key": "k1"})
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        other = http.post(
            "/v1/payments/create-order",
            json={**ORDER, "amount": "26"},
            headers={"Idempotency-Key": "k1"},
        )
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
        assert first.json()["payment_id"] in other.json()["detail"]
        fresh = http.post(
            "/v1/payments/create-order", json=ORDER, headers={"Idempotency-Key": "k2"}
        )
        assert fresh.json()["payment_id"] != first.json()["payment_id"]
    assert _count(api) == 2


def test_concurrent_retries_with_one_key_make_one_payment(api: ApiServer) -> None:
    key = api.key("payments:write")

    def post(_: int) -> tuple[int, str]:
        with api.client(key) as http:
            r = http.post("/v1/payments/create-order", json=ORDER, headers={"Idempotency-Key": "x"})
            return r.status_code, r.json()["payment_id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))
    assert {pid for _status, pid in results} == {results[0][1]}
    assert sorted(status for status, _pid in results).count(201) == 1
    assert _count(api) == 1


def test_keys_scopes_revocation_and_rate_limit(api_config, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    tight = api_config.model_copy(update={"api": ApiConfig(rate_limit_per_minute=5)})
    server_iter = serve(tight, sqlite_store)
    server = next(server_iter)
    try:
        reader = server.key("payments:read")
        writer = server.key("payments:write")
        with server.client() as anonymous:
            assert anonymous.get("/v1/payments").status_code == 401
            wrong = anonymous.get("/v1/payments", headers={"X-API-Key": "pbk_guess"})
            assert wrong.status_code == 401
        with server.client(reader) as http:
            refused = http.post("/v1/payments/create-order", json=ORDER)
            assert refused.status_code == 403 and "payments:write" in refused.json()["detail"]
            assert http.get("/v1/payments").status_code == 200
        with server.client(writer) as http:
            assert http.get("/v1/payments").status_code == 403  # counts: 4 of 5 left
            statuses = [http.post(CREATE, json=ORDER).status_code for _ in range(5)]
            assert statuses == [201, 201, 201, 201, 429]
            limited = http.post("/v1/payments/create-order", json=ORDER)
            assert int(limited.headers["Retry-After"]) >= 1
        with transaction(sqlite_store) as session:
            reader_id = session.query(ApiKey).filter_by(scopes="payments:read").one().id
            revoke_api_key(session, reader_id, actor="test")
        with server.client(reader) as http:
            assert http.get("/v1/payments").status_code == 401
    finally:
        server_iter.close()


def _erp_request(server: ApiServer) -> str:
    invoice = InvoiceRecord(
        "netsuite",
        "1",
        "INV-77",
        "CUST-1",
        Decimal("40.00"),
        "USD",
        date(2026, 12, 31),
        "anvil",
        "USDC",
    )
    rates = FixedRateSource({("USDC", "USD"): Decimal("1")})
    with transaction(server.engine) as session:
        (made,) = create_payment_requests(
            session,
            [invoice],
            config=server.config,
            rates_for_chain=lambda _c: rates,
            wallet=merchant_wallet(server.config, "anvil"),
            actor="test",
        )
        return made.request.id


def test_list_filters_pages_and_erp_requests(api: ApiServer) -> None:
    key = api.key("payments:write", "payments:read")
    erp_id = _erp_request(api)
    with api.client(key) as http:
        ids = [
            http.post("/v1/payments/create-order", json=ORDER).json()["payment_id"]
            for _ in range(3)
        ]
        erp = http.get(f"/v1/payments/{erp_id}").json()
        assert erp["source"] == "erp" and erp["invoice"]["invoice_id"] == "INV-77"
        assert erp["payment_details"]["amount_base_units"] == "40000000"
        only_erp = http.get("/v1/payments", params={"source": "erp"}).json()
        assert [p["payment_id"] for p in only_erp["data"]] == [erp_id]
        by_invoice = http.get("/v1/payments", params={"invoice_id": "INV-77"}).json()["data"]
        assert [p["payment_id"] for p in by_invoice] == [erp_id]
        seen: list[str] = []
        cursor = None
        while True:
            params = {"source": "api", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = http.get("/v1/payments", params=params).json()
            seen += [p["payment_id"] for p in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 3
        assert http.get("/v1/payments", params={"cursor": "garbage!"}).status_code == 400
        assert http.get("/v1/payments", params={"status": "completed"}).json()["data"] == []


def test_cancel_a_payment_nothing_was_paid_to(api: ApiServer) -> None:
    key = api.key("payments:write", "payments:read")
    with api.client(key) as http:
        payment_id = http.post("/v1/payments/create-order", json=ORDER).json()["payment_id"]
        cancelled = http.post(f"/v1/payments/{payment_id}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "invalid" and "marked" in cancelled.json()["flags"]
        again = http.post(f"/v1/payments/{payment_id}/cancel")
        assert again.status_code == 409
        assert http.post("/v1/payments/pr_missing/cancel").status_code == 404


def test_committed_openapi_is_the_served_one(sqlite_api: ApiServer) -> None:
    with sqlite_api.client() as http:
        served = http.get("/openapi.json")
    assert served.status_code == 200
    import json

    assert json.dumps(served.json(), indent=2, sort_keys=True) + "\n" == OPENAPI_FILE.read_text(), (
        "docs/openapi.json is stale: run `make openapi` and commit it"
    )
    assert openapi_text  # the writer `make openapi` uses
    paths = served.json()["paths"]
    assert {"/v1/payments/create-order", "/v1/payments", "/v1/payments/{payment_id}"} <= set(paths)
