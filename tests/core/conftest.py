"""Core fixtures: a migrated store on SQLite and PostgreSQL, the default config, fixed rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from paybridge_connectors.rates.fixed import FixedRateSource

from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.config import PayBridgeConfig, load_config
from paybridge.invoices import InvoiceRecord


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
