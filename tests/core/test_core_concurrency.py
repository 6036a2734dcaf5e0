"""Several processes creating requests at once never share an address or duplicate a request."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from paybridge_connectors.rates.fixed import FixedRateSource

from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.config import load_config
from paybridge.invoices import InvoiceRecord
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import create_engine_for, transaction
from paybridge.store.models import PaymentRequest

WORKERS = 4
BATCHES = 10
PER_BATCH = 15


def _worker(url: str, worker: int, start: mp.Barrier) -> None:  # type: ignore[type-arg]
    config = load_config(None)
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    rates = FixedRateSource({("USDC", "USD"): Decimal(1)})
    engine = create_engine_for(url)
    start.wait()
    for batch in range(BATCHES):
        # every worker also tries the shared invoices SHARED-0..n: only one may create each
        ids = [f"W{worker}-{batch}-{i}" for i in range(PER_BATCH)] + [f"SHARED-{batch}"]
        invoices = [
            InvoiceRecord(
                "netsuite",
                "1",
                inv,
                "C1",
                Decimal("10.00"),
                "USD",
                date(2026, 12, 1),
                "anvil",
                "USDC",
            )
            for inv in ids
        ]
        for attempt in range(20):
            try:
                with transaction(engine) as session:
                    create_payment_requests(
                        session,
                        invoices,
                        config=config,
                        rates_for_chain=lambda _c: rates,
                        wallet=wallet,
                        actor=f"worker-{worker}",
                    )
                break
            except sa.exc.OperationalError:  # SQLite "database is locked" under contention
                if attempt == 19:
                    raise
    engine.dispose()


def _run_workers(url: str) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_worker, args=(url, w, barrier)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0, f"worker failed with exit code {p.exitcode}"


def _assert_unique(engine: sa.Engine) -> None:
    with transaction(engine) as session:
        rows = session.execute(
            sa.select(
                PaymentRequest.invoice_id,
                PaymentRequest.derivation_index,
                PaymentRequest.deposit_address,
            )
        ).all()
    expected = WORKERS * BATCHES * PER_BATCH + BATCHES
    assert len(rows) == expected
    assert len({r.invoice_id for r in rows}) == expected
    indexes = Counter(r.derivation_index for r in rows)
    addresses = Counter(r.deposit_address for r in rows)
    assert max(indexes.values()) == 1, "two requests got the same derivation index"
    assert max(addresses.values()) == 1, "two requests got the same deposit address"
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    for row in rows[:25]:
        assert wallet.address(row.derivation_index) == row.deposit_address


def test_parallel_processes_on_postgresql(postgres_url: str) -> None:
    from paybridge.store.db import migrate

    engine = create_engine_for(postgres_url)
    migrate(engine)
    _run_workers(postgres_url)
    _assert_unique(engine)
    engine.dispose()


def test_parallel_processes_on_sqlite(sqlite_url: str) -> None:
    from paybridge.store.db import migrate

    engine = create_engine_for(sqlite_url)
    migrate(engine)
    _run_workers(sqlite_url)
    _assert_unique(engine)
