"""schemathesis against the served OpenAPI document, over real HTTP (uvicorn on loopback):
no 5xx, and every answer conforms to the document (status codes, content types, bodies).

Generated requests carry a valid API key with every scope, so they reach the handlers; the
committed document is the one served (test_api_payments checks that).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import schemathesis
from api_server import ApiServer, serve
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from paybridge.api.app import OPENAPI_FILE
from paybridge.config import ApiConfig, RateConfig

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_api(api_config, sqlite_store) -> Iterator[ApiServer]:  # type: ignore[no-untyped-def]
    """Every asset at a fixed rate (no chain reads: an unreachable feed is a documented 503,
    not what this test looks for) and no request budget in the way."""
    offline = [
        asset.model_copy(
            update={"rate": RateConfig(source="fixed", currency="USD", price=Decimal("2"))}
        )
        for asset in api_config.assets
    ]
    config = api_config.model_copy(
        update={"api": ApiConfig(rate_limit_per_minute=10**6), "assets": offline}
    )
    yield from serve(config, sqlite_store)


schema = schemathesis.openapi.from_dict(json.loads(OPENAPI_FILE.read_text()))


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case, fuzz_api: ApiServer) -> None:
    key = fuzz_api.key("admin")
    case.call_and_validate(base_url=fuzz_api.base_url, headers={"X-API-Key": key}, checks=CHECKS)
