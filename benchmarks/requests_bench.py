"""Payment requests created per second (quote + address + EIP-681 URI + audit entry, batched).

Target (issue 15): at least 5,000/s on SQLite; PostgreSQL reported too, on a throwaway cluster
this benchmark starts itself (benchmarks/pgcluster.py), never a server it finds. Each backend
is measured in its own process (its own peak memory). Besides wall-clock rates, the SQLite
figure is also given per CPU-second of the process (SQLite runs in-process), which a machine
shared with other work disturbs far less than wall time. The floor beside it: deriving the same
number of addresses alone (per CPU-second; ``derivation_share_of_cpu`` is the part of a
request's CPU time that derivation takes). PAYBRIDGE_BENCH_BASELINE=<ref> also measures SQLite
on that commit's code in the same run.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import date
from decimal import Decimal

from paybridge_connectors.rates.fixed import FixedRateSource

from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.config import load_config
from paybridge.invoices import InvoiceRecord
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import create_engine_for, migrate, transaction

TARGET_PER_SECOND = 5000
REQUESTS = int(os.environ.get("PAYBRIDGE_BENCH_REQUESTS_N", "5000"))
BATCH = 1000
REPEATS = 3


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


def measure(url: str) -> dict[str, object]:
    """REPEATS runs of REQUESTS new requests (in batches of BATCH) into the store at ``url``."""
    config = load_config(None)
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    rates = FixedRateSource({("USDC", "USD"): Decimal("0.9998"), ("ETH", "USD"): Decimal("3000")})
    engine = create_engine_for(url)
    migrate(engine)
    wall_rates, cpu_rates = [], []
    for run in range(REPEATS):
        invoices = _invoices(run)
        started, cpu_started = time.perf_counter(), time.process_time()
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
        wall_rates.append(REQUESTS / (time.perf_counter() - started))
        cpu_rates.append(REQUESTS / (time.process_time() - cpu_started))
    engine.dispose()
    # the floor beside it: deriving the same number of addresses and nothing else
    derive_rates = []
    for run in range(REPEATS):
        started = time.process_time()
        wallet.addresses(1_000_000 + run * REQUESTS, REQUESTS)
        derive_rates.append(REQUESTS / (time.process_time() - started))
    median = statistics.median(wall_rates)
    return {
        "requests_per_run": REQUESTS,
        "batch_size": BATCH,
        "per_second_runs": [round(r) for r in wall_rates],
        "per_second_median": round(median),
        "per_cpu_second_median": round(statistics.median(cpu_rates)),
        "derivation_only_per_cpu_second_median": round(statistics.median(derive_rates)),
        "derivation_share_of_cpu": round(
            statistics.median(cpu_rates) / statistics.median(derive_rates), 2
        ),
        "target_per_second": TARGET_PER_SECOND,
        "meets_target": median >= TARGET_PER_SECOND,
    }


def measure_sqlite() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        return measure(f"sqlite:///{tmp}/bench.db")


def run() -> dict[str, object]:
    from benchmarks.pgcluster import PgUnavailable, temporary_cluster
    from benchmarks.procs import in_process, with_baseline

    sqlite = with_baseline(__file__, "measure_sqlite")
    try:
        with temporary_cluster() as url:
            postgresql = in_process(__file__, "measure", url)
            postgresql["server"] = "throwaway cluster started by this benchmark (initdb)"
    except PgUnavailable as exc:
        postgresql = {"skipped": f"PostgreSQL not measured: {exc}"}
    return {"sqlite": sqlite, "postgresql": postgresql}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
