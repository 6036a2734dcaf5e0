"""Invoices -> payment requests, every few minutes; emits the ``payment_requests`` asset."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, task

from paybridge_provider.dag_factories.dag_defaults import ERP_RETRIES, paybridge_dag
from paybridge_provider.failures import fail_fast, listing, refuse
from paybridge_provider.hooks.store_hook import PayBridgeHook

PAYMENT_REQUESTS = Asset("paybridge://payment_requests")


def create_payment_requests_now(paybridge_conn_id: str, actor: str) -> dict[str, Any]:
    """One request per stored invoice that has none; a retry never creates one twice.
    Fails (after creating all it could) when an invoice could not become a request."""
    from paybridge.requests.pipeline import create_pending_requests

    with fail_fast("payment requests"):
        hook = PayBridgeHook(paybridge_conn_id)
        config = hook.get_config()
        summary = create_pending_requests(hook.get_engine(config), config, actor=actor)
    if summary.skipped:
        keys = [key for key, _reason in summary.skipped]
        refuse(
            f"{len(keys)} invoices could not become payment requests ({listing(keys)}; first: "
            f"{summary.skipped[0][1]}); {summary.created} were created",
            "fix the reason named (rate source, chain or xpub in paybridge.toml); the next run "
            "creates the missing requests",
        )
    return {"created": summary.created, "already_existed": summary.existing, "skipped": []}


def build_payment_requests_dag(
    dag_id: str = "paybridge_payment_requests",
    schedule: str | None = "*/5 * * * *",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """### Payment requests (owner: finance ops)
    Every 5 minutes: one crypto payment request (quote, deposit address, payment link) per
    stored invoice that has none; a retry never creates one twice.

    **Fails** (and alerts) when an invoice could not become a request (no rate, chain or xpub),
    after creating every other request.
    """
    with paybridge_dag(
        dag_id,
        schedule=schedule,
        doc=build_payment_requests_dag.__doc__,
        default_args=ERP_RETRIES,
    ) as dag:

        @task(outlets=[PAYMENT_REQUESTS])
        def create_payment_requests() -> dict[str, Any]:
            return create_payment_requests_now(paybridge_conn_id, actor=f"airflow:{dag_id}")

        create_payment_requests()
    return dag
