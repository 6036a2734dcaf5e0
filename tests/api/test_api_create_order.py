"""create-order over real HTTP: the seed's body as written, exact amounts, the address
derived from the merchant xpub, the EIP-681 link and QR codes; refusals as problem+json."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

from api_server import HASH_KEY, ApiServer, serve
from paybridge_connectors.rates.base import Rate, RateUnavailable
from served_app import served

from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.api.app import create_app
from paybridge.config import MerchantConfig
from paybridge.eip681 import parse_payment_uri
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest

#: The seed's e-commerce checkout body, as written (amount a JSON number, network MAINNET).
SEED_BODY = b"""{
  "amount": 0.05,
  "currency": "ETH",
  "network": "MAINNET",
  "description": "Order #1234",
  "metadata": {"order_id": "1234", "customer_id": "cus_42"}
}"""


def _problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_seed_body_creates_a_mainnet_eth_order(api: ApiServer) -> None:
    key = api.key("payments:write", "payments:read")
    with api.client(key) as http:
        response = http.post(
            "/v1/payments/create-order",
            content=SEED_BODY,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text
        payment = response.json()
        details = payment["payment_details"]
        expected = WatchOnlyWallet(api.config.merchant.xpub).addresses(0, 1)[0]
        assert details["address"] == expected
        assert details["amount"] == "0.05"
        assert details["amount_base_units"] == str(5 * 10**16)
        assert (details["asset"], details["network"], details["chain_id"]) == ("ETH", "ethereum", 1)
        uri = parse_payment_uri(details["uri"])
        assert (uri.target, uri.chain_id) == (expected, 1)
        assert dict(uri.parameters) == {"value": str(5 * 10**16)}
        assert payment["status"] == "new"
        assert payment["metadata"] == {"customer_id": "cus_42", "order_id": "1234"}
        assert payment["payment_url"].endswith(f"/pay/{payment['payment_id']}")
        svg = http.get(details["qr_svg_url"])
        assert svg.headers["content-type"] == "image/svg+xml" and b"0.05 ETH" in svg.content
        png = http.get(details["qr_png_url"])
        assert png.content.startswith(b"\x89PNG")
        again = http.get(f"/v1/payments/{payment['payment_id']}").json()
        assert again == payment


def test_fiat_priced_order_paid_in_a_chosen_asset(sqlite_api: ApiServer) -> None:
    key = sqlite_api.key("payments:write")
    body = {"amount": "100.00", "pricing_currency": "USD", "currency": "USDC", "network": 31337}
    with sqlite_api.client(key) as http:
        payment = http.post("/v1/payments/create-order", json=body).json()
    assert payment["currency"] == "USD" and payment["amount"] == "100.00"
    details = payment["payment_details"]
    assert details["amount_base_units"] == "100000000"  # fixed demo rate 1 USD per USDC
    assert (details["asset"], details["chain_id"], details["network"]) == ("USDC", 31337, "anvil")
    uri = parse_payment_uri(details["uri"])
    assert uri.function_name == "transfer"
    assert dict(uri.parameters) == {"address": details["address"], "uint256": "100000000"}


def test_amounts_are_exact_never_through_a_float(sqlite_api: ApiServer) -> None:
    key = sqlite_api.key("payments:write")
    raw = b'{"amount": 123456789.123456789012345678, "currency": "ETH", "network": "anvil"}'
    with sqlite_api.client(key) as http:
        response = http.post(
            "/v1/payments/create-order", content=raw, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 201, response.text
    assert response.json()["payment_details"]["amount_base_units"] == "123456789123456789012345678"
    with transaction(sqlite_api.engine) as session:
        row = session.get(PaymentRequest, response.json()["payment_id"])
        assert row.invoice_amount == Decimal("123456789.123456789012345678")


def test_public_test_key_never_gives_a_mainnet_address(api_config, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    leaky = api_config.model_copy(update={"merchant": MerchantConfig(xpub=ANVIL_DEMO_XPUB)})
    server_iter = serve(leaky, sqlite_store)
    server = next(server_iter)
    try:
        with server.client(server.key("payments:write")) as http:
            body = _problem(http.post("/v1/payments/create-order", content=SEED_BODY), 503)
        assert "test" in body["detail"].lower()
        with transaction(sqlite_store) as session:
            assert session.query(PaymentRequest).count() == 0
    finally:
        server_iter.close()


def test_refusals_name_the_field(sqlite_api: ApiServer) -> None:
    key = sqlite_api.key("payments:write", "payments:read")
    with sqlite_api.client(key) as http:
        post = lambda body: http.post("/v1/payments/create-order", json=body)  # noqa: E731
        bad_amount = _problem(post({"amount": "abc", "currency": "ETH", "network": "anvil"}), 422)
        assert bad_amount["errors"][0]["field"] == "amount"
        _problem(post({"amount": "-1", "currency": "ETH", "network": "anvil"}), 422)
        network = _problem(post({"amount": "1", "currency": "ETH", "network": "NOPE"}), 422)
        assert "configured chains" in network["detail"]
        asset = _problem(post({"amount": "1", "currency": "DOGE", "network": "anvil"}), 422)
        assert "pricing_currency" in asset["detail"]
        hook = {
            "amount": "1",
            "currency": "ETH",
            "network": "anvil",
            "webhook_url": "https://x.example/h",
        }
        assert "webhooks add" in _problem(post(hook), 422)["detail"]
        bad_json = http.post(
            "/v1/payments/create-order", content=b"{", headers={"Content-Type": "application/json"}
        )
        _problem(bad_json, 422)
        _problem(http.get("/v1/payments/pr_nope"), 404)


class _LiveRates:
    """A rate feed standing in for an on-chain one (a call per read): records which thread
    reads it, or fails as an unreachable feed does."""

    def __init__(self) -> None:
        self.readers: list[str] = []
        self.reachable = True

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        self.readers.append(threading.current_thread().name)
        if not self.reachable:
            raise RateUnavailable("feed unreachable")
        return Rate(asset_symbol, currency, Decimal(2), "test feed", at or datetime.now(UTC))


def test_a_fiat_orders_rate_is_read_once_before_its_batch(api_config, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    """The feed is read on a request thread, never by the order writer (where one slow read
    would hold up every queued order and SQLite's write lock), and once: check and quote
    use one price. An unreadable feed is 503 'No rate', still after the caller check."""
    feed = _LiveRates()
    app = create_app(
        api_config, engine=sqlite_store, hash_key=HASH_KEY, rates_for_chain=lambda _chain: feed
    )
    body = {"amount": "100.00", "pricing_currency": "USD", "currency": "USDC", "network": 31337}
    with served(app) as port:
        server = ApiServer(f"http://127.0.0.1:{port}", sqlite_store, api_config)
        with server.client(server.key("payments:write")) as http:
            created = http.post("/v1/payments/create-order", json=body)
            assert created.status_code == 201, created.text
            details = created.json()["payment_details"]
            assert details["amount_base_units"] == "50000000"  # 100 USD at 2 USD per USDC
            assert len(feed.readers) == 1 and feed.readers[0] != "order-writer"
            feed.reachable = False
            refused = _problem(http.post("/v1/payments/create-order", json=body), 503)
            assert refused["title"] == "No rate" and "retry later" in refused["detail"]
        with server.client("pbk_not_a_key") as stranger:
            _problem(stranger.post("/v1/payments/create-order", json=body), 401)
    assert "order-writer" not in feed.readers
