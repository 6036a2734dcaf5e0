"""`/metrics` on `paybridge api`: the figures of `paybridge status`, in Prometheus' format,
open on loopback and behind a `metrics:read` key from other hosts (served over real HTTP)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from api_server import HASH_KEY
from prometheus_client.parser import text_string_to_metric_families
from served_app import served
from sqlalchemy.engine import Engine
from status_figures import seed_status_figures

from paybridge.access.api_keys import create_api_key
from paybridge.api.app import create_app
from paybridge.config import PayBridgeConfig
from paybridge.health import collect_status
from paybridge.store.db import transaction


def _non_loopback_ip() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # no packet is sent: this only picks a route
            ip = probe.getsockname()[0]
        except OSError:
            ip = "127.0.0.1"
    if ip.startswith("127."):
        pytest.skip("no non-loopback IPv4 address on this machine")
    return ip


@pytest.fixture
def everywhere(api_config: PayBridgeConfig, sqlite_store: Engine) -> Iterator[int]:
    """The API on all interfaces (as behind `--host 0.0.0.0`); yields its port."""
    app = create_app(api_config, engine=sqlite_store, hash_key=HASH_KEY)
    with served(app, host="0.0.0.0") as port:
        yield port


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_are_the_statusseed_status_figures(
    everywhere: int, sqlite_store: Engine, api_config: PayBridgeConfig
) -> None:
    seed_status_figures(sqlite_store)
    response = httpx.get(f"http://127.0.0.1:{everywhere}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    report = collect_status(sqlite_store, api_config)
    [chain] = report.chains
    anvil = (("chain", "anvil"),)
    assert samples[("paybridge_chain_head_block", anvil)] == chain["head"] == 1000
    assert samples[("paybridge_chain_cursor_block", anvil)] == chain["cursor"] == 400
    assert samples[("paybridge_chain_lag_blocks", anvil)] == chain["lag_blocks"] == 600
    assert abs(samples[("paybridge_chain_lag_seconds", anvil)] - chain["lag_seconds"]) <= 5
    assert samples[("paybridge_chain_finality_stalled", anvil)] == 0
    ns = (("connection", "netsuite_default"),)
    assert samples[("paybridge_settlements_pending", ns)] == 1
    assert samples[("paybridge_settlements_needs_attention", ns)] == 1
    assert samples[("paybridge_settlement_oldest_pending_seconds", ns)] >= 7200
    assert samples[("paybridge_open_exceptions", (("age", "over_1d"),))] == 0
    # unknown figures are absent, not 0: Airflow's database is not configured here
    assert samples[("paybridge_airflow_metadata_available", ())] == 0
    assert not [name for name, _ in samples if name == "paybridge_open_exception_oldest_seconds"]
    assert samples[("paybridge_status_breaches", ())] == len(report.breaches) >= 2
    # no amount, address or customer leaves through /metrics
    assert "10.00" not in response.text and "C1" not in response.text
    assert "0x" not in response.text


def test_metrics_from_another_host_need_the_metrics_scope(
    everywhere: int, sqlite_store: Engine
) -> None:
    url = f"http://{_non_loopback_ip()}:{everywhere}/metrics"
    refused = httpx.get(url, timeout=30)
    assert refused.status_code == 401 and "metrics:read" in refused.text
    with transaction(sqlite_store) as session:
        _, shop = create_api_key(
            session, HASH_KEY, name="shop", scopes=["payments:read"], actor="test"
        )
        _, scraper = create_api_key(
            session, HASH_KEY, name="prometheus", scopes=["metrics:read"], actor="test"
        )
    assert httpx.get(url, headers={"X-API-Key": shop}, timeout=30).status_code == 403
    assert httpx.get(url, headers={"X-API-Key": "pbk_nope"}, timeout=30).status_code == 401
    ok = httpx.get(url, headers={"Authorization": f"Bearer {scraper}"}, timeout=30)
    assert ok.status_code == 200 and "paybridge_status_breaches" in ok.text
