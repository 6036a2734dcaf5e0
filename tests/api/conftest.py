"""API fixtures: a merchant xpub that is not a public test key; the API over each store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_server import ApiServer, fresh_xpub, serve
from sqlalchemy.engine import Engine

from paybridge.config import MerchantConfig, PayBridgeConfig, load_config


@pytest.fixture(scope="session")
def merchant_xpub() -> str:
    return fresh_xpub()


@pytest.fixture
def api_config(merchant_xpub: str) -> PayBridgeConfig:
    base = load_config(None)
    return base.model_copy(update={"merchant": MerchantConfig(name="Shop", xpub=merchant_xpub)})


@pytest.fixture
def api(api_config: PayBridgeConfig, store: Engine) -> Iterator[ApiServer]:
    """The API over SQLite and over PostgreSQL."""
    yield from serve(api_config, store)


@pytest.fixture
def sqlite_api(api_config: PayBridgeConfig, sqlite_store: Engine) -> Iterator[ApiServer]:
    yield from serve(api_config, sqlite_store)
