"""SAP S/4HANA connector benchmarks against the SAP simulator running in its own process.

* open-items sync of 100,000 items (OData ``A_OperationalAcctgDocItemCube``, pages of 1,000):
  HTTP requests used (target ceil(100,000 / 1,000) + a constant: the ``$metadata`` read and
  the last, short window) and items/s, both through the connector alone and stored into the
  mirror by ``sync_open_invoices`` (target >= 5,000/s);
* settlement posting throughput through the outbox (one SOAP journal entry, one bulk clearing
  and its confirmation per settlement), without and with 30% injected faults (10% 5xx, 10% 429,
  10% commit-then-drop; Retry-After 0 so backoff jitter dominates).

The simulator runs in a subprocess (``paybridge sim sap``) so that its CPU does not share our
GIL and the client is what is measured; the machine is shared, so each figure is the median
of several runs with min/max, and the load average is recorded beside them.
``PAYBRIDGE_BENCH_SAP_ITEMS`` / ``_SETTLEMENTS`` shrink the sizes for a quick look.
"""

from __future__ import annotations

import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from paybridge_connectors.erp.sap.config import SapConnectionConfig
from paybridge_connectors.erp.sap.s4 import S4Connector

from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from paybridge.erp_sync import sync_open_invoices
from paybridge.settlement_outbox import OutboxPolicy, enqueue, post_due
from paybridge.store.db import create_engine_for, migrate, transaction

REPO = Path(__file__).resolve().parents[1]
SYNC_ITEMS = int(os.environ.get("PAYBRIDGE_BENCH_SAP_ITEMS", "100000"))
SYNC_RUNS = 3
PAGE = 1000
TARGET_ITEMS_PER_S = 5_000
POST_SETTLEMENTS = int(os.environ.get("PAYBRIDGE_BENCH_SAP_SETTLEMENTS", "200"))
POST_RUNS = 3
COMPANY = "1010"


@contextmanager
def simulator(seed_items: int, *faults: str) -> Iterator[SapConnectionConfig]:
    """``paybridge sim sap`` (S/4) in a subprocess; yields a connection config for it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "paybridge.cli.main", "sim", "sap", "--port", "0",
         "--seed-invoices", str(seed_items), "--clearing-delay", "0", "--retry-after", "0",
         *faults],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        env: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                key, _, value = line[len("export ") :].strip().partition("=")
                env[key] = value.strip("'")
            if "SAP_PAYMENT_ASSET" in env:
                break
        base = SapConnectionConfig.from_env(env)
        yield base.model_copy(
            update={"company_codes": (COMPANY,), "page_size": PAGE, "backoff_initial_s": 0.01,
                    "backoff_max_s": 0.2, "max_attempts": 15, "clearing_check_interval_s": 0.01,
                    "clearing_checks": 100}
        )  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # our own child, by its pid
            process.wait(timeout=10)


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_sync() -> dict:
    fetch_rates, store_rates, requests, counts = [], [], [], []
    fetch_cpu, store_cpu = [], []  # items per CPU-second of this (client) process
    with simulator(SYNC_ITEMS) as cfg, tempfile.TemporaryDirectory() as tmp:
        with S4Connector(cfg) as conn:
            conn.service()  # $metadata once, as a long-lived worker holds it
            for _ in range(SYNC_RUNS):
                before = conn.gateway.stats.requests
                started, cpu = time.perf_counter(), time.process_time()
                fetched = sum(len(p.invoices) for p in conn.fetch_open_invoices(None))
                fetch_rates.append(fetched / (time.perf_counter() - started))
                fetch_cpu.append(fetched / (time.process_time() - cpu))
                requests.append(conn.gateway.stats.requests - before)
        for run_number in range(SYNC_RUNS):
            engine = create_engine_for(f"sqlite:///{tmp}/sync{run_number}.db")
            migrate(engine)
            with S4Connector(cfg) as conn:
                started, cpu = time.perf_counter(), time.process_time()
                summary = sync_open_invoices(engine, conn, "bench", full=True)
                seconds = time.perf_counter() - started
                store_cpu.append(summary.invoices / (time.process_time() - cpu))
            engine.dispose()
            store_rates.append(summary.invoices / seconds)
            counts.append(summary.invoices)
    pages = math.ceil(SYNC_ITEMS / PAGE)
    return {
        "items": counts[0],
        "page_size": PAGE,
        "odata_requests": requests[0],
        "odata_requests_target": f"{pages} + constant",
        "odata_requests_over_pages": requests[0] - pages,
        "items_per_s_fetched": _spread(fetch_rates),
        "items_per_s_stored": _spread(store_rates),
        # what the client alone could do: items per CPU-second of the syncing process (the
        # simulator's CPU is in its own process; on a loaded machine wall-clock rates mostly
        # measure the wait for it)
        "client_items_per_cpu_s_fetched": _spread(fetch_cpu),
        "client_items_per_cpu_s_stored": _spread(store_cpu),
        "target_items_per_s": TARGET_ITEMS_PER_S,
        "meets_target": statistics.median(store_rates) >= TARGET_ITEMS_PER_S
        and counts[0] == SYNC_ITEMS,
        "load_average_after": _load(),
    }


def _settlements(conn: S4Connector, prefix: str) -> list[Settlement]:
    out = []
    for page in conn.fetch_open_invoices(None):
        for invoice in page.invoices:
            amount = invoice.amount
            out.append(
                Settlement(
                    settlement_id=f"{prefix}-{invoice.invoice_id}",
                    erp_system="sap",
                    company=invoice.company,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    applications=(Application(invoice.invoice_id, amount),),
                    payment_amount=amount,
                    journal_lines=(
                        JournalLine(
                            "digital_asset", debit=amount, account_key="financial_instrument"
                        ),
                        JournalLine("crypto_clearing", credit=amount),
                    ),
                    evidence=Evidence(31337, ("0x" + "ab" * 32,)),
                )
            )
    return out


def bench_posting(*faults: str) -> dict:
    rates, cpu_rates, retries, attention, per_settlement = [], [], [], [], []
    for run_number in range(POST_RUNS):
        with simulator(POST_SETTLEMENTS, *faults) as cfg, tempfile.TemporaryDirectory() as tmp:
            engine = create_engine_for(f"sqlite:///{tmp}/post.db")
            migrate(engine)
            with S4Connector(cfg) as conn:
                settlements = _settlements(conn, f"pb{run_number}")
                with transaction(engine) as session:
                    for settlement in settlements:
                        enqueue(session, settlement, "bench")
                before, sent = conn.gateway.stats.retries, conn.gateway.stats.requests
                started, cpu = time.perf_counter(), time.process_time()
                summary = post_due(engine, conn, policy=OutboxPolicy(
                    max_attempts=50, backoff_base=timedelta(0)))  # fmt: skip
                seconds = time.perf_counter() - started
                cpu_rates.append(len(summary.posted) / (time.process_time() - cpu))
                retries.append(conn.gateway.stats.retries - before)
                per_settlement.append((conn.gateway.stats.requests - sent) / len(settlements))
            engine.dispose()
            rates.append(len(summary.posted) / seconds)
            attention.append(len(summary.needs_attention))
    return {
        "settlements": POST_SETTLEMENTS,
        "settlements_per_s": _spread(rates),
        "client_settlements_per_cpu_s": _spread(cpu_rates),
        "http_requests_per_settlement_median": round(statistics.median(per_settlement), 1),
        "http_retries_median": statistics.median(retries),
        "needs_attention_max": max(attention),
        "load_average_after": _load(),
    }


def run() -> dict:
    load_before = _load()
    clean = bench_posting()
    chaos = bench_posting("--error-rate", "0.1", "--rate-429", "0.1", "--drop-rate", "0.1")
    return {
        "load_average_before": load_before,
        "sync_open_items": bench_sync(),
        "posting_clean": clean,
        "posting_30pct_faults": chaos,
        "posting_fault_slowdown": round(
            clean["settlements_per_s"]["median"] / chaos["settlements_per_s"]["median"], 2
        ),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
