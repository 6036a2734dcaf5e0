"""Reconcile DAG: runs when the chain watch records receipts; queues settlements to post."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from plugins.dag_factories.chain import RECEIPTS
from plugins.dag_factories.common import paybridge_dag
from plugins.dag_factories.erp import SETTLEMENTS
from plugins.hooks.paybridge import PayBridgeHook


def build_reconcile_dag(
    dag_id: str = "paybridge_reconcile",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """Reconcile the store (match receipts to requests, queue exceptions, complete paid
    requests) and put each settled request's settlement in the outbox for posting.

    Safe to retry or overlap: one transaction per run, runs are serialised, and a request is
    completed and queued at most once (settlement id derived from the request id).
    """
    with paybridge_dag(
        dag_id, schedule=[RECEIPTS], doc=build_reconcile_dag.__doc__, tags=["reconciliation"]
    ) as dag:

        @task(outlets=[SETTLEMENTS])
        def reconcile() -> dict[str, Any]:
            from paybridge.recon_runs.run import reconcile_store

            hook = PayBridgeHook(paybridge_conn_id)
            config = hook.get_config()
            summary = reconcile_store(hook.get_engine(config), config, actor=f"airflow:{dag_id}")
            return summary.as_dict()

        reconcile()
    return dag
