"""End to end through the DAGs on the Celery deployment (issue 13): invoices from NetSuite and
SAP (simulators) -> payment requests -> payments on anvil -> receipts -> reconciliation ->
settlements posted to both ERPs, with one and with two Celery workers.

Each configuration gets a fresh deployment (deploy/airflow_celery_local.py) on a PostgreSQL
cluster and a Redis server this benchmark starts itself; the scheduler drives the pipeline as in
production: unpausing erp_sync starts its run, unpausing chain_watch starts its run, whose
asset starts reconcile, whose asset starts posting. Stage times are Airflow's own (each DAG
run's start to end, from the REST API); ``payments_s`` is the customers paying on anvil
(outside Airflow). One run per configuration (a deployment costs minutes), so the ratio
one/two workers is of single runs measured back to back under the same load.
``PAYBRIDGE_BENCH_CELERY_INVOICES`` (default 1000, half per ERP) sets the size,
``PAYBRIDGE_BENCH_CELERY_ORDER`` (default ``1,2``) the order of the configurations.

Reading the ratio: ``payments_s`` runs outside Airflow, so its ratio is the machine's load drift
between the two runs, not the workers; and one worker already runs the mapped tasks (one per
ERP connection) side by side (Celery concurrency 16), so on 2 cores a second worker adds
processes, not CPU.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

INVOICES = int(os.environ.get("PAYBRIDGE_BENCH_CELERY_INVOICES", "1000"))
ORDER = [int(n) for n in os.environ.get("PAYBRIDGE_BENCH_CELERY_ORDER", "1,2").split(",")]
ROOT = Path(__file__).resolve().parent.parent
STAGE_DAGS = {
    "erp_sync_s": "paybridge_erp_sync",
    "chain_watch_s": "paybridge_chain_watch",
    "reconcile_s": "paybridge_reconcile",
    "posting_s": "paybridge_post_settlements",
}
TIMEOUT_S = 3600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_seconds(run: dict[str, Any]) -> float:
    start, end = (datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
    return round((end - start).total_seconds(), 2)


def _first_run(api: Any, dag_id: str) -> dict[str, Any]:
    """The first run the scheduler makes of ``dag_id``, once finished (it must succeed)."""
    run_id = api.wait_new_run(dag_id, set(), timeout_s=TIMEOUT_S)
    state = api.wait_run(dag_id, run_id, timeout_s=TIMEOUT_S)
    if state != "success":
        raise RuntimeError(f"{dag_id} run {run_id} ended {state}")
    return dict(api.get(f"/dags/{dag_id}/dagRuns/{run_id}"))


def pipeline(workers: int, pg_server: str, redis_port: int, workdir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "deploy"))
    from celery_world import erp_world, pay_every_request, running_deployment

    from paybridge import settlement_outbox
    from paybridge.store.db import create_engine_for

    netsuite_n, sap_n = INVOICES - INVOICES // 2, INVOICES // 2
    figures: dict[str, Any] = {"workers": workers}
    workdir.mkdir(parents=True, exist_ok=True)
    with erp_world(workdir, netsuite_n, sap_n) as world:
        started = time.perf_counter()
        with running_deployment(
            workdir / "airflow",
            {**os.environ, **world.env},
            workers=workers,
            db_prefix=f"pbbench{workers}",
            redis_db=0,
            postgres=pg_server,
            redis_port=redis_port,
        ) as deployment:
            api = deployment.api
            api.wait_for_dags(tuple(STAGE_DAGS.values()))
            figures["startup_s"] = round(time.perf_counter() - started, 2)
            for dag_id in ("paybridge_reconcile", "paybridge_post_settlements"):
                api.unpause(dag_id)
            began = time.perf_counter()
            api.unpause("paybridge_erp_sync")
            runs = {"erp_sync_s": _first_run(api, "paybridge_erp_sync")}
            api.pause("paybridge_erp_sync")
            paid_at = time.perf_counter()
            store = f"{pg_server}/pbbench{workers}_store"
            paid = pay_every_request(world, store)
            figures["payments_s"] = round(time.perf_counter() - paid_at, 2)
            api.unpause("paybridge_chain_watch")
            runs["chain_watch_s"] = _first_run(api, "paybridge_chain_watch")
            api.pause("paybridge_chain_watch")
            runs["reconcile_s"] = _first_run(api, "paybridge_reconcile")
            runs["posting_s"] = _first_run(api, "paybridge_post_settlements")
            figures["end_to_end_s"] = round(time.perf_counter() - began, 2)
            figures.update({stage: _run_seconds(run) for stage, run in runs.items()})
            engine = create_engine_for(store)
            try:
                counts = settlement_outbox.status_counts(engine)
            finally:
                engine.dispose()
            posted_ns = len(world.netsuite.account.payments_by_external_id())
            figures["check"] = {
                "payment_requests_paid": paid,
                "outbox": counts,
                "netsuite_payments": posted_ns,
                "sap_items_still_open": sum(map(world.sap.ledger.item_open, world.sap_keys)),
            }
            if counts != {"posted": INVOICES} or paid != INVOICES or posted_ns != netsuite_n:
                raise RuntimeError(f"pipeline incomplete: {figures['check']}")
    return figures


def run() -> dict[str, object]:
    from benchmarks.pgcluster import temporary_cluster

    redis_port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    base = Path(tempfile.mkdtemp(prefix="pb-bench-celery-"))
    try:
        with temporary_cluster() as url:
            server = url.rsplit("/", 1)[0]
            by_workers: dict[str, dict[str, Any]] = {}
            for n in ORDER:
                try:
                    by_workers[str(n)] = pipeline(n, server, redis_port, base / f"w{n}")
                except Exception as exc:  # keep the other configuration's figures
                    by_workers[str(n)] = {"workers": n, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(base, ignore_errors=True)
    stages = ["erp_sync_s", "payments_s", "chain_watch_s", "reconcile_s", "posting_s"]
    one, two = by_workers["1"], by_workers["2"]
    return {
        "invoices": INVOICES,
        "netsuite_invoices": INVOICES - INVOICES // 2,
        "sap_invoices": INVOICES // 2,
        "payments_on_anvil": INVOICES,
        "runs_per_configuration": 1,
        "order": ORDER,
        "by_workers": by_workers,
        "ratio_one_over_two_workers": {
            stage: round(one[stage] / two[stage], 2) if one.get(stage) and two.get(stage) else None
            for stage in [*stages, "end_to_end_s"]
        },
    }
