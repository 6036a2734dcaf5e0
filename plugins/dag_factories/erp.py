"""ERP DAGs: sync open invoices in, post settlements out; one mapped task per ERP connection.

The connections come from the Airflow Variable ``paybridge_erp_connections`` (a JSON list of
Connection ids, default ``["netsuite_default"]``), read at run time so adding an ERP needs no
DAG change.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, Variable, task

from plugins.dag_factories.common import ERP_RETRIES, paybridge_dag
from plugins.dag_factories.payment_requests import PAYMENT_REQUESTS, create_payment_requests_now
from plugins.hooks.netsuite import NetSuiteHook
from plugins.hooks.paybridge import PayBridgeHook

SETTLEMENTS = Asset("paybridge://settlements")
CONNECTIONS_VARIABLE = "paybridge_erp_connections"


@task
def erp_connections() -> list[str]:
    return list(
        Variable.get(CONNECTIONS_VARIABLE, default=["netsuite_default"], deserialize_json=True)
    )


def build_erp_sync_dag(
    dag_id: str = "paybridge_erp_sync",
    schedule: str | None = "*/15 * * * *",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """Open invoices from each ERP -> store (bad ones quarantined) -> payment requests."""
    with paybridge_dag(
        dag_id,
        schedule=schedule,
        doc=build_erp_sync_dag.__doc__,
        tags=["erp"],
        default_args=ERP_RETRIES,
    ) as dag:

        @task
        def sync_invoices(conn_id: str) -> dict[str, Any]:
            """Watermarked and page-atomic: a retry resumes after the last stored page.
            The connection's payment_chain/payment_asset are checked before anything is
            fetched (a config error fails the task instead of billing on a wrong chain)."""
            from paybridge.erp_sync import intake_open_invoices, payment_target, sync_open_invoices

            hook = PayBridgeHook(paybridge_conn_id)
            engine = hook.get_engine()
            settings = NetSuiteHook(conn_id).get_settings()
            target = payment_target(
                hook.get_config(), settings.name, settings.payment_chain, settings.payment_asset
            )
            with NetSuiteHook(conn_id).get_conn() as connector:
                summary = sync_open_invoices(engine, connector, settings.name)
            taken_in = intake_open_invoices(engine, settings.name, target)
            return {**summary.as_dict(), "new_invoices": taken_in}

        @task(outlets=[PAYMENT_REQUESTS])
        def create_payment_requests(_synced: list[dict[str, Any]]) -> dict[str, Any]:
            return create_payment_requests_now(paybridge_conn_id, actor=f"airflow:{dag_id}")

        create_payment_requests(sync_invoices.expand(conn_id=erp_connections()))
    return dag


def build_settlement_posting_dag(
    dag_id: str = "paybridge_post_settlements",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """Post due settlements from the outbox to each ERP; runs when new settlements are queued.

    Exactly once whatever fails: each settlement carries its idempotency key to the ERP, and
    parallel workers claim outbox rows with SKIP LOCKED.
    """
    with paybridge_dag(
        dag_id,
        schedule=[SETTLEMENTS],
        doc=build_settlement_posting_dag.__doc__,
        tags=["erp"],
        default_args=ERP_RETRIES,
        max_active_runs=16,
    ) as dag:

        @task
        def post_settlements(conn_id: str) -> dict[str, Any]:
            from paybridge.settlement_outbox import post_due

            engine = PayBridgeHook(paybridge_conn_id).get_engine()
            with NetSuiteHook(conn_id).get_conn() as connector:
                summary = post_due(
                    engine, connector, connection=conn_id, worker=f"airflow:{dag_id}:{conn_id}"
                )
            if summary.needs_attention:
                print(f"settlements needing attention: {summary.needs_attention}")
            return summary.as_dict()

        post_settlements.expand(conn_id=erp_connections())
    return dag
