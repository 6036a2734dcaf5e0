"""Fixtures for ERP tests: a live NetSuite simulator on loopback and a migrated store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from sqlalchemy.engine import Engine

from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from simulators.netsuite import (
    DEFAULT_GRANT,
    SEEDED_SETTLEMENT_ACCOUNTS,
    NetSuiteSimulator,
    TokenGrant,
)

ACCOUNTS = SEEDED_SETTLEMENT_ACCOUNTS


@pytest.fixture
def sim() -> Iterator[NetSuiteSimulator]:
    with NetSuiteSimulator() as simulator:
        yield simulator


def make_config(
    sim: NetSuiteSimulator, grant: TokenGrant = DEFAULT_GRANT, **overrides: object
) -> NetSuiteConnectionConfig:
    values: dict[str, object] = {
        "account": sim.account_id,
        "consumer_key": grant.consumer_key,
        "consumer_secret": grant.consumer_secret,
        "token_id": grant.token_id,
        "token_secret": grant.token_secret,
        "base_url": sim.base_url,
        "accounts": ACCOUNTS,
        "backoff_initial_s": 0.005,
        "backoff_max_s": 0.05,
        "max_attempts": 12,
        "timeout_s": 10,
    }
    values.update(overrides)
    return NetSuiteConnectionConfig(**values)  # type: ignore[arg-type]


ConfigFactory = Callable[..., NetSuiteConnectionConfig]


@pytest.fixture
def ns_config() -> ConfigFactory:
    """``ns_config(sim, grant=..., page_size=...)`` -> a connection config for that simulator."""
    return make_config


@pytest.fixture
def connector(sim: NetSuiteSimulator) -> Iterator[NetSuiteConnector]:
    with NetSuiteConnector(make_config(sim)) as conn:
        yield conn


@pytest.fixture
def engine(sqlite_store: Engine) -> Engine:
    return sqlite_store


@pytest.fixture
def pg_engine(postgres_store: Engine) -> Engine:
    return postgres_store


@pytest.fixture
def cli_env(
    sim: NetSuiteSimulator,
    engine: Engine,
    ns_config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> NetSuiteConnectionConfig:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYBRIDGE_DATABASE_URL", str(engine.url))
    monkeypatch.delenv("PAYBRIDGE_CONFIG", raising=False)
    cfg: NetSuiteConnectionConfig = ns_config(sim)
    for key, value in {
        "NETSUITE_ACCOUNT": cfg.account,
        "NETSUITE_CONSUMER_KEY": cfg.consumer_key.get_secret_value(),
        "NETSUITE_CONSUMER_SECRET": cfg.consumer_secret.get_secret_value(),
        "NETSUITE_TOKEN_ID": cfg.token_id.get_secret_value(),
        "NETSUITE_TOKEN_SECRET": cfg.token_secret.get_secret_value(),
        "NETSUITE_BASE_URL": sim.base_url,
        "NETSUITE_ACCOUNTS": json.dumps(ACCOUNTS),
    }.items():
        monkeypatch.setenv(key, value)
    return cfg


def pytest_configure(config: pytest.Config) -> None:
    # Raised inside the netsuite package's own signing path (authlib/oauthlib), not ours.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:oauthlib.*")
    config.addinivalue_line("filterwarnings", "ignore:The httpx module is deprecated")


def settlement_for(
    sim: NetSuiteSimulator,
    invoice_id: int,
    settlement_id: str,
    *,
    applied: Decimal | None = None,
    paid: Decimal | None = None,
    currency: str = "USD",
) -> Settlement:
    """A settlement paying the invoice (by default in full), with a fair-value journal."""
    invoice = sim.account.transactions[invoice_id]
    applied = invoice["foreignamountunpaid"] if applied is None else applied
    paid = applied if paid is None else paid
    fair_value = paid - Decimal("0.01")
    return Settlement(
        settlement_id=settlement_id,
        erp_system="netsuite",
        company=str(invoice["subsidiary"]),
        customer_id=str(invoice["entity"]),
        currency=currency,
        applications=(Application(str(invoice_id), applied),),
        payment_amount=paid,
        journal_lines=(
            JournalLine(
                "digital_asset",
                debit=fair_value,
                memo="USDC at fair value",
                account_key="financial_instrument",
            ),
            JournalLine(
                "settlement_gain_loss",
                debit=Decimal("0.01"),
                memo="rate difference",
                account_key="loss",
            ),
            JournalLine("crypto_clearing", credit=paid, memo="clear"),
        ),
        evidence=Evidence(31337, (f"0x{invoice_id:064x}",), "1.0001", "chainlink:0xfeed"),
        ar_account="119",
    )


@pytest.fixture
def make_settlement() -> Callable[..., Settlement]:
    return settlement_for
