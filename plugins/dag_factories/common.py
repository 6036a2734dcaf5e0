"""What every PayBridge DAG shares: no catch-up, one run at a time, retries, tags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
#: ERP calls: a few patient retries (the connectors retry 429/5xx themselves first).
ERP_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
}
#: Chain and store work: retry soon, the next schedule comes quickly anyway.
QUICK_RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=30)}


def paybridge_dag(
    dag_id: str,
    *,
    schedule: str | Sequence[Asset] | None,
    doc: str | None,
    tags: Sequence[str] = (),
    default_args: dict[str, Any] = QUICK_RETRIES,
    max_active_runs: int = 1,
) -> DAG:
    return DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=max_active_runs,
        default_args=default_args,
        tags=["paybridge", *tags],
        doc_md=doc,
    )
