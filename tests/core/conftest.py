"""Core fixtures: a migrated store on SQLite and PostgreSQL, the default config, fixed rates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from connectors.rates.fixed import FixedRateSource
from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.config import PayBridgeConfig, load_config
from paybridge.invoices import InvoiceRecord
from paybridge.store.db import create_engine_for, migrate


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine_for(sqlite_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def config() -> PayBridgeConfig:
    return load_config(None)


@pytest.fixture(scope="session")
def wallet() -> WatchOnlyWallet:
    return WatchOnlyWallet(ANVIL_DEMO_XPUB)


@pytest.fixture
def fixed_rates() -> FixedRateSource:
    return FixedRateSource(
        {
            ("USDC", "USD"): Decimal("0.9998"),
            ("ETH", "USD"): Decimal("3000.00"),
            ("DAI", "USD"): Decimal("1"),
        }
    )


def _invoice(
    number: int, amount: str = "100.00", asset: str = "USDC", **kw: object
) -> InvoiceRecord:
    fields: dict = {
        "erp_system": "netsuite",
        "company": "1",
        "invoice_id": f"INV-{number:05d}",
        "customer_id": f"CUST-{number % 7}",
        "amount": Decimal(amount),
        "currency": "USD",
        "due_date": date(2026, 12, 31),
        "chain": "anvil",
        "asset_symbol": asset,
    }
    fields.update(kw)
    return InvoiceRecord(**fields)


@pytest.fixture
def make_invoice():  # type: ignore[no-untyped-def]
    """Factory: ``make_invoice(7, amount="12.50", asset="ETH")`` -> an InvoiceRecord."""
    return _invoice
