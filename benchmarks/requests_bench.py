"""Payment requests created per second (quote + address + EIP-681 URI + audit entry, batched).

Target: at least 2,000/s on SQLite; PostgreSQL is reported too when reachable.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from connectors.rates.fixed import FixedRateSource
from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.config import load_config
from paybridge.invoices import InvoiceRecord
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import create_engine_for, migrate, transaction

TARGET_PER_SECOND = 2000
REQUESTS = 5000
BATCH = 1000
REPEATS = 3
POSTGRES_URL = os.environ.get(
    "PAYBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _invoices(run: int) -> list[InvoiceRecord]:
    return [
        InvoiceRecord(
            "bench",
            "1",
            f"R{run}-{i}",
            f"C{i % 50}",
            Decimal("1234.56"),
            "USD",
            date(2026, 12, 31),
            "anvil",
            "USDC" if i % 3 else "ETH",
        )
        for i in range(REQUESTS)
    ]


def _measure(url: str) -> dict[str, object]:
    config = load_config(None)
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    rates = FixedRateSource({("USDC", "USD"): Decimal("0.9998"), ("ETH", "USD"): Decimal("3000")})
    engine = create_engine_for(url)
    migrate(engine)
    rates_per_run = []
    for run in range(REPEATS):
        invoices = _invoices(run)
        started = time.perf_counter()
        for start in range(0, REQUESTS, BATCH):
            with transaction(engine) as session:
                create_payment_requests(
                    session,
                    invoices[start : start + BATCH],
                    config=config,
                    rates_for_chain=lambda _c: rates,
                    wallet=wallet,
                    actor="bench",
                )
        rates_per_run.append(REQUESTS / (time.perf_counter() - started))
    engine.dispose()
    median = statistics.median(rates_per_run)
    return {
        "requests_per_run": REQUESTS,
        "batch_size": BATCH,
        "per_second_runs": [round(r) for r in rates_per_run],
        "per_second_median": round(median),
        "target_per_second": TARGET_PER_SECOND,
        "meets_target": median >= TARGET_PER_SECOND,
    }


def _postgres() -> dict[str, object]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine_for(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
    except sa.exc.OperationalError as exc:
        return {"skipped": f"no PostgreSQL at {POSTGRES_URL}: {exc.orig}"}
    try:
        return _measure(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _measure(f"sqlite:///{tmp}/bench.db")
    return {"sqlite": sqlite, "postgresql": _postgres()}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
