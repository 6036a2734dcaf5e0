"""Reconcile DAG: runs when the chain watch records receipts; queues settlements to post."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from paybridge_provider.dag_factories.chain_watch_dag import RECEIPTS
from paybridge_provider.dag_factories.dag_defaults import AS_OF_PARAM, paybridge_dag
from paybridge_provider.dag_factories.erp_dags import SETTLEMENTS
from paybridge_provider.failures import fail_fast, listing, refuse
from paybridge_provider.hooks.store_hook import PayBridgeHook


def build_reconcile_dag(
    dag_id: str = "paybridge_reconcile",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """### Reconcile (owner: finance ops)
    Runs when the chain watch announced receipts: match receipts to requests, queue
    exceptions, complete paid requests and put each settled request's settlement in the
    outbox; announces `paybridge://settlements` (which starts posting) only when it queued some.

    Safe to retry or overlap: one transaction per run, runs are serialised, and a request is
    completed and queued at most once (settlement id derived from the request id).
    **Fails** (and alerts) when a settlement was recorded but cannot be posted (e.g. its
    invoice came from a file, not an ERP connection), like `paybridge reconcile` exits 1.
    **Param** `as_of`: reconcile as at that time.
    """
    with paybridge_dag(
        dag_id,
        schedule=[RECEIPTS],
        doc=build_reconcile_dag.__doc__,
        tags=["paybridge_reconciliation"],
        params={"as_of": AS_OF_PARAM},
    ) as dag:

        @task
        def reconcile() -> dict[str, Any]:
            from paybridge.recon_runs.run import reconcile_store

            as_of = get_current_context()["params"].get("as_of")
            with fail_fast("reconciliation"):
                hook = PayBridgeHook(paybridge_conn_id)
                config = hook.get_config()
                summary = reconcile_store(
                    hook.get_engine(config),
                    config,
                    actor=f"airflow:{dag_id}",
                    as_of=datetime.fromisoformat(as_of) if as_of else None,
                )
            return summary.as_dict()

        @task(outlets=[SETTLEMENTS])
        def announce_settlements(summary: dict[str, Any]) -> list[str]:
            """Skipped (no asset event, no posting run) when nothing was queued."""
            if not summary.get("settlements_enqueued"):
                raise AirflowSkipException("no settlement queued: nothing to post")
            return list(summary["settlements_enqueued"])

        @task
        def check_postable(summary: dict[str, Any]) -> None:
            """Its own task, so that queued settlements are still announced and posted."""
            not_postable = summary.get("settlements_not_postable") or []
            if not_postable:
                ids = [row["settlement_id"] for row in not_postable]
                refuse(
                    f"{len(ids)} settlements cannot be posted to an ERP ({listing(ids)}: "
                    f"{not_postable[0].get('category') or not_postable[0].get('reason')}); "
                    "recorded as needs_attention, their requests are completed",
                    "`paybridge settlements list --state needs_attention` shows each and why; "
                    "record them in the ERP by hand, or sync the invoices from their ERP "
                    "connection",
                )

        summary = reconcile()
        announce_settlements(summary)
        check_postable(summary)
    return dag
