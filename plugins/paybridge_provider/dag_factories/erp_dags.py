"""ERP DAGs: sync open invoices in, post settlements out; one mapped task per ERP connection.

The connections come from the run's ``erp_connection`` param or else the Airflow Variable
``paybridge_erp_connections`` (a JSON list of Connection ids, default ``["netsuite_default"]``),
read at run time so adding an ERP needs no DAG change.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, Variable, get_current_context, task

from paybridge_provider.dag_factories.dag_defaults import (
    DRY_RUN_PARAM,
    ERP_CONNECTION_PARAM,
    ERP_RETRIES,
    paybridge_dag,
)
from paybridge_provider.dag_factories.payment_requests_dag import create_payment_requests_now
from paybridge_provider.failures import fail_fast, listing, refuse
from paybridge_provider.hooks.erp_hook import erp_hook
from paybridge_provider.hooks.store_hook import PayBridgeHook

SETTLEMENTS = Asset("paybridge://settlements")
CONNECTIONS_VARIABLE = "paybridge_erp_connections"


@task
def erp_connections() -> list[str]:
    chosen = get_current_context()["params"].get("erp_connection")
    if chosen:
        return [chosen]
    return list(
        Variable.get(CONNECTIONS_VARIABLE, default=["netsuite_default"], deserialize_json=True)
    )


def build_erp_sync_dag(
    dag_id: str = "paybridge_erp_sync",
    schedule: str | None = "*/15 * * * *",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """### ERP sync (owner: finance ops; ERP admin for connections)
    Every 15 minutes: open invoices from each ERP connection -> store (bad ones quarantined)
    -> one crypto payment request per new invoice.

    **Fails** (and alerts) when an invoice was quarantined, or could not become a request (no
    rate, no xpub); the others are stored and billed all the same. Credentials, configuration
    and ERP rejections fail at once, outages are retried.
    **Param** `erp_connection`: sync one connection only.
    """
    with paybridge_dag(
        dag_id,
        schedule=schedule,
        doc=build_erp_sync_dag.__doc__,
        tags=["erp"],
        default_args=ERP_RETRIES,
        params={"erp_connection": ERP_CONNECTION_PARAM},
    ) as dag:

        @task
        def sync_invoices(conn_id: str) -> dict[str, Any]:
            """Watermarked and page-atomic: a retry resumes after the last stored page.
            The connection's payment_chain/payment_asset are checked before anything is
            fetched (a config error fails the task instead of billing on a wrong chain)."""
            from paybridge_connectors.erp.connections import env_prefix

            from paybridge.erp_sync import intake_open_invoices, payment_target, sync_open_invoices

            with fail_fast(f"ERP connection {conn_id!r}"):
                hook = PayBridgeHook(paybridge_conn_id)
                engine = hook.get_engine()
                erp = erp_hook(conn_id)
                settings = erp.get_config()
                target = payment_target(
                    hook.get_config(),
                    settings.name,
                    settings.payment_chain,
                    settings.payment_asset,
                    env_prefix(settings),
                )
                with erp.get_conn() as connector:
                    summary = sync_open_invoices(engine, connector, settings.name)
                taken_in = intake_open_invoices(engine, settings.name, target)
            if summary.quarantined_invoices:
                ids = [q["invoice_id"] for q in summary.quarantined_invoices]
                first = summary.quarantined_invoices[0]
                refuse(
                    f"{len(ids)} invoices from {conn_id} quarantined ({listing(ids)}; first: "
                    f"{first.get('field')}: {first.get('reason')})",
                    "`paybridge erp quarantine` lists them; correct "
                    "each in the ERP, the next sync takes it in",
                )
            return {**summary.as_dict(), "new_invoices": taken_in}

        @task(trigger_rule="all_done")
        def create_payment_requests() -> dict[str, Any]:
            """Runs even when one connection failed: the others' invoices are billed."""
            return create_payment_requests_now(paybridge_conn_id, actor=f"airflow:{dag_id}")

        @task
        def every_connection_synced() -> None:
            """A leaf that is upstream_failed when a sync failed: Airflow judges a run by its
            leaves, and create_payment_requests (all_done) would otherwise leave it green."""

        synced = sync_invoices.expand(conn_id=erp_connections())
        synced >> create_payment_requests()
        synced >> every_connection_synced()
    return dag


def build_settlement_posting_dag(
    dag_id: str = "paybridge_post_settlements",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """### Settlement posting (owner: finance ops)
    Posts due settlements from the outbox to each ERP; runs when reconciliation queued new
    settlements (the `paybridge://settlements` asset), or when triggered by hand.

    Exactly once whatever fails: each settlement carries its idempotency key to the ERP, and
    parallel workers claim outbox rows with SKIP LOCKED.
    **Fails** (and alerts) when a settlement needs attention (the ERP refused it or it ran out
    of attempts): `paybridge settlements show <id>`, fix it in the ERP, then
    `paybridge settlements requeue <id>`.
    **Params** `erp_connection`: one connection only; `dry_run`: list what is due, post nothing.
    """
    with paybridge_dag(
        dag_id,
        schedule=[SETTLEMENTS],
        doc=build_settlement_posting_dag.__doc__,
        tags=["erp"],
        default_args=ERP_RETRIES,
        max_active_runs=16,
        params={"erp_connection": ERP_CONNECTION_PARAM, "dry_run": DRY_RUN_PARAM},
    ) as dag:

        @task
        def post_settlements(conn_id: str) -> dict[str, Any]:
            """The claim names this task instance: a retry (its previous try's worker was
            lost, e.g. killed mid-post) takes back that try's claims at once, rather than
            leaving them until the lease ends; the ERP idempotency key makes re-posting safe."""
            from paybridge.settlement_outbox import post_due, release_claims

            context = get_current_context()
            dry_run = bool(context["params"].get("dry_run"))
            worker = f"airflow:{dag_id}:{context['run_id']}:{conn_id}"
            with fail_fast(f"ERP connection {conn_id!r}"):
                engine = PayBridgeHook(paybridge_conn_id).get_engine()
                if context["ti"].try_number > 1 and not dry_run:
                    release_claims(engine, worker)
                with erp_hook(conn_id).get_conn() as connector:
                    summary = post_due(
                        engine, connector, connection=conn_id, worker=worker, dry_run=dry_run
                    )
            if summary.needs_attention:
                ids = summary.needs_attention
                refuse(
                    f"{len(ids)} settlements for {conn_id} need attention ({listing(ids)}: "
                    f"{summary.errors.get(ids[0], 'see paybridge settlements show')})",
                    "`paybridge settlements show <id>`, fix the cause in the ERP, then "
                    "`paybridge settlements requeue <id>`",
                )
            return summary.as_dict() | {"due_ids": summary.due}

        post_settlements.expand(conn_id=erp_connections())
    return dag
