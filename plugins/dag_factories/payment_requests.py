"""Invoices -> payment requests, every few minutes; emits the ``payment_requests`` asset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, task

from plugins.hooks.paybridge import PayBridgeHook

PAYMENT_REQUESTS = Asset("paybridge://payment_requests")


def create_payment_requests_now(paybridge_conn_id: str, actor: str) -> dict[str, Any]:
    """One request per stored invoice that has none; a retry never creates one twice."""
    from paybridge.requests.pipeline import create_pending_requests

    hook = PayBridgeHook(paybridge_conn_id)
    config = hook.get_config()
    summary = create_pending_requests(hook.get_engine(config), config, actor=actor)
    return {
        "created": summary.created,
        "already_existed": summary.existing,
        "skipped": [list(s) for s in summary.skipped],
    }


def build_payment_requests_dag(
    dag_id: str = "paybridge_payment_requests",
    schedule: str | None = "*/5 * * * *",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": 3, "retry_delay": timedelta(minutes=1)},
        tags=["paybridge"],
        doc_md=__doc__,
    ) as dag:

        @task(outlets=[PAYMENT_REQUESTS])
        def create_payment_requests() -> dict[str, Any]:
            return create_payment_requests_now(paybridge_conn_id, actor=f"airflow:{dag_id}")

        create_payment_requests()
    return dag
