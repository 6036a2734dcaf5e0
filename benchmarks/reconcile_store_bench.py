"""Reconciliation from the store: export + engine + persist + settle, and the idempotent re-run.

Seeds N exactly-paid USDC requests with finalized receipts into a fresh SQLite store (bulk
insert), then times the first run (which completes and queues N settlements) and re-runs
(nothing left to settle). Figures: seconds; re-run is the median of 3. Target (issue 15): the
first run at least 4x faster than the code before batched settlement (f6d65c0), measured in
the same run with PAYBRIDGE_BENCH_BASELINE=f6d65c0. pandas and pyarrow are imported before
the clock starts (both checkouts), so the first run is the reconciliation, not a cold import.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from paybridge.config import load_config
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.db import create_engine_for, migrate, transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainReceipt

USDC = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def seed(engine: sa.Engine, n: int) -> None:
    now = datetime(2026, 1, 5, 10, tzinfo=UTC)
    requests, receipts = [], []
    for i in range(n):
        address = f"0x{i + 1:040x}"
        requests.append(
            {
                "id": f"pr_{i:08d}",
                "erp_system": "bench",
                "company": "1000",
                "invoice_id": f"INV-{i}",
                "customer_id": f"C{i % 500}",
                "invoice_amount": Decimal("100.00"),
                "currency": "USD",
                "due_date": None,
                "chain_id": 31337,
                "asset_symbol": "USDC",
                "asset_address": USDC,
                "asset_decimals": 6,
                "xpub_fingerprint": "bench",
                "derivation_index": i,
                "deposit_address": address,
                "amount_due": 100_000_000,
                "rate_price": Decimal(1),
                "rate_source": "fixed",
                "rate_as_of": now,
                "rate_round_id": None,
                "quote_expires_at": now + timedelta(minutes=15),
                "monitor_until": now + timedelta(hours=24),
                "payment_uri": "ethereum:bench",
                "status": "confirmed",
                "paid_partial": False,
                "paid_over": False,
                "paid_late": False,
                "marked": False,
                "amount_received": 100_000_000,
                "amount_confirmed": 100_000_000,
                "created_at": now,
                "updated_at": now,
            }
        )
        receipts.append(
            {
                "chain_id": 31337,
                "tx_hash": f"0x{i + 1:064x}",
                "event_key": "log:0",
                "log_index": 0,
                "trace_address": None,
                "kind": "erc20",
                "direction": "in",
                "asset_symbol": "USDC",
                "asset_address": USDC,
                "from_address": "0x" + "ab" * 20,
                "to_address": address,
                "watched_address": address,
                "amount": 100_000_000,
                "block_number": 100 + i,
                "block_hash": f"0x{i + 7:064x}",
                "block_timestamp": now + timedelta(seconds=i),
                "state": "finalized",
                "payment_request_id": f"pr_{i:08d}",
                "first_seen_at": now,
                "updated_at": now,
            }
        )
    with transaction(engine) as session:
        session.execute(sa.insert(PaymentRequest), requests)
        session.execute(sa.insert(ChainReceipt), receipts)


def first_and_reruns(n: int) -> dict:
    """One process: seed ``n`` paid requests, time the first run and 3 re-runs."""
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        seed(engine, n)
        # Libraries imported before the clock starts, in both checkouts: the first run times
        # reconciling the store, not reading pandas and pyarrow from a disk other work shares
        # (that import was most of the gap between wall and CPU time on a loaded machine).
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401

        started, cpu_started = time.perf_counter(), time.process_time()
        first = reconcile_store(engine, config)
        first_s = time.perf_counter() - started
        first_cpu_s = time.process_time() - cpu_started
        queued = len(first.settlements_enqueued) + len(first.settlements_not_postable)
        assert queued == n, f"{queued} settlements queued for {n} paid requests"
        reruns = []
        for _ in range(3):
            started = time.perf_counter()
            again = reconcile_store(engine, config)
            reruns.append(time.perf_counter() - started)
            assert again.settlements_enqueued == [] and again.settlements_not_postable == []
        engine.dispose()
    return {
        "first_run_s": round(first_s, 3),
        "first_run_cpu_s": round(first_cpu_s, 3),
        "settlements_queued": queued,
        "rerun_median_s": round(statistics.median(reruns), 3),
        "first_run_per_request_ms": round(1000 * first_s / n, 3),
    }


def run(n: int | None = None) -> dict:
    """Each measurement in its own process (its own peak memory); with
    PAYBRIDGE_BENCH_BASELINE=<ref> the same on that commit's code, in the same run."""
    from benchmarks.procs import with_baseline

    n = n or int(os.environ.get("PAYBRIDGE_BENCH_RECONCILE_STORE_N", "5000"))
    result: dict = {"requests": n, "receipts": n, **with_baseline(__file__, "first_and_reruns", n)}
    base = result.get("baseline", {})
    if "first_run_s" in base:  # CPU time too: SQLite runs in-process, and CPU time is what
        # a loaded machine disturbs least
        for key in ("first_run_s", "first_run_cpu_s"):
            result[f"{key}_speedup_vs_baseline"] = round(base[key] / result[key], 2)
    return result


if __name__ == "__main__":
    print(run())
