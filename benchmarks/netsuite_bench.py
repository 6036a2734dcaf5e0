"""NetSuite connector benchmarks against the simulator running in its own process.

* sync of 100,000 open invoices into the store: HTTP requests used (target
  ceil(100,000 / 1000) + a constant) and invoices/s stored (target >= 5,000/s);
* the ``netsuite`` package's new-client-per-request transport vs our pooled client (latency);
* settlement posting throughput through the outbox, without and with 30% injected faults
  (10% 5xx, 10% 429, 10% commit-then-drop; Retry-After 0 so backoff jitter dominates).

The simulator runs in a subprocess (``paybridge sim netsuite``) so its CPU does not share our
GIL; the machine is shared, so medians of several runs are reported with min/max.
"""

from __future__ import annotations

import asyncio
import json
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

from paybridge_connectors.erp.netsuite.client import (
    BaseUrlNetSuiteRestApi,
    PooledNetSuiteRestApi,
    make_config,
)
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector

from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from paybridge.erp_sync import sync_open_invoices
from paybridge.settlement_outbox import OutboxPolicy, enqueue, post_due
from paybridge.store.db import create_engine_for, migrate, transaction

REPO = Path(__file__).resolve().parents[1]
SYNC_INVOICES = 100_000
SYNC_RUNS = 3
TARGET_INVOICES_PER_S = 5_000
LATENCY_REQUESTS = 200
POST_SETTLEMENTS = 300
POST_RUNS = 3


@contextmanager
def simulator(seed_invoices: int, *faults: str) -> Iterator[NetSuiteConnectionConfig]:
    """``paybridge sim netsuite`` in a subprocess; yields a connection config for it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "paybridge.cli.main", "sim", "netsuite", "--port", "0",
         "--seed-invoices", str(seed_invoices), "--retry-after", "0", *faults],
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
            if "NETSUITE_ACCOUNTS" in env:
                break
        base = NetSuiteConnectionConfig.from_env(env)
        yield base.model_copy(update={"backoff_initial_s": 0.01, "backoff_max_s": 0.2,
                                      "max_attempts": 15})  # fmt: skip
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


def bench_sync() -> dict:
    rates, requests, counts = [], [], []
    with simulator(SYNC_INVOICES) as cfg, tempfile.TemporaryDirectory() as tmp:
        for run_number in range(SYNC_RUNS):
            engine = create_engine_for(f"sqlite:///{tmp}/sync{run_number}.db")
            migrate(engine)
            with NetSuiteConnector(cfg) as conn:
                started = time.perf_counter()
                summary = sync_open_invoices(engine, conn, "bench")
                seconds = time.perf_counter() - started
            engine.dispose()
            rates.append(summary.invoices / seconds)
            requests.append(summary.http_requests)
            counts.append(summary.invoices)
    pages = math.ceil(SYNC_INVOICES / 1000)
    return {
        "invoices": counts[0],
        "http_requests": requests[0],
        "http_requests_target": f"{pages} + constant",
        "http_requests_over_pages": requests[0] - pages,
        "invoices_per_s": _spread(rates),
        "target_invoices_per_s": TARGET_INVOICES_PER_S,
        "meets_target": statistics.median(rates) >= TARGET_INVOICES_PER_S
        and counts[0] == SYNC_INVOICES,
    }


async def _latencies(api: BaseUrlNetSuiteRestApi, path: str) -> list[float]:
    out = []
    for _ in range(LATENCY_REQUESTS):
        started = time.perf_counter()
        response = await api.request("GET", path)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return out


def bench_transport() -> dict:
    with simulator(1) as cfg:
        ns = make_config(cfg.account, cfg.consumer_key.get_secret_value(),
                         cfg.consumer_secret.get_secret_value(), cfg.token_id.get_secret_value(),
                         cfg.token_secret.get_secret_value())  # fmt: skip
        with NetSuiteConnector(cfg) as conn:
            invoice_id = next(conn.fetch_open_invoices()).invoices[0].invoice_id
        path = f"/record/v1/invoice/{invoice_id}"

        async def both() -> tuple[list[float], list[float]]:
            per_request = BaseUrlNetSuiteRestApi(ns, base_url=cfg.base_url)
            pooled = PooledNetSuiteRestApi(ns, base_url=cfg.base_url)
            await _latencies(pooled, path)  # warm-up
            a = await _latencies(per_request, path)
            b = await _latencies(pooled, path)
            await pooled.aclose()
            return a, b

        per_request_ms, pooled_ms = asyncio.run(both())
    return {
        "requests_each": LATENCY_REQUESTS,
        "package_client_per_request_ms": _spread(per_request_ms),
        "pooled_client_ms": _spread(pooled_ms),
        "speedup_median": round(
            statistics.median(per_request_ms) / statistics.median(pooled_ms), 1
        ),
    }


def _settlements(conn: NetSuiteConnector, prefix: str) -> list[Settlement]:
    out = []
    for page in conn.fetch_open_invoices():
        for invoice in page.invoices:
            amount = invoice.amount
            out.append(
                Settlement(
                    settlement_id=f"{prefix}-{invoice.invoice_id}",
                    erp_system="netsuite",
                    company=invoice.company,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    applications=(Application(invoice.invoice_id, amount),),
                    payment_amount=amount,
                    journal_lines=(
                        JournalLine("digital_asset", debit=amount),
                        JournalLine("crypto_clearing", credit=amount),
                    ),
                    evidence=Evidence(31337, ("0x" + "ab" * 32,)),
                )
            )
    return out


def bench_posting(*faults: str) -> dict:
    rates, retries, attention = [], [], []
    for run_number in range(POST_RUNS):
        with simulator(POST_SETTLEMENTS, *faults) as cfg, tempfile.TemporaryDirectory() as tmp:
            engine = create_engine_for(f"sqlite:///{tmp}/post.db")
            migrate(engine)
            with NetSuiteConnector(cfg) as conn:
                settlements = _settlements(conn, f"pb{run_number}")
                with transaction(engine) as session:
                    for settlement in settlements:
                        enqueue(session, settlement, "bench")
                before = conn.transport.stats.retries
                started = time.perf_counter()
                summary = post_due(engine, conn, policy=OutboxPolicy(
                    max_attempts=50, backoff_base=timedelta(0)))  # fmt: skip
                seconds = time.perf_counter() - started
                retries.append(conn.transport.stats.retries - before)
            engine.dispose()
            rates.append(len(summary.posted) / seconds)
            attention.append(len(summary.needs_attention))
    return {
        "settlements": POST_SETTLEMENTS,
        "settlements_per_s": _spread(rates),
        "http_retries_median": statistics.median(retries),
        "needs_attention_max": max(attention),
    }


def run() -> dict:
    clean = bench_posting()
    chaos = bench_posting("--error-rate", "0.1", "--rate-429", "0.1", "--drop-rate", "0.1")
    result = {
        "sync_100k": bench_sync(),
        "transport": bench_transport(),
        "posting_clean": clean,
        "posting_30pct_faults": chaos,
        "posting_fault_slowdown": round(
            clean["settlements_per_s"]["median"] / chaos["settlements_per_s"]["median"], 2
        ),
    }
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
