"""Invoices -> payment requests, every few minutes; emits the ``payment_requests`` asset."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, task

from plugins.dag_factories.common import ERP_RETRIES, paybridge_dag
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
    with paybridge_dag(dag_id, schedule=schedule, doc=__doc__, default_args=ERP_RETRIES) as dag:

        @task(outlets=[PAYMENT_REQUESTS])
        def create_payment_requests() -> dict[str, Any]:
            return create_payment_requests_now(paybridge_conn_id, actor=f"airflow:{dag_id}")

        create_payment_requests()
    return dag
