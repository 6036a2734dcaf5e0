"""Chain watch DAG: one mapped task per chain that has requests still being monitored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, Asset, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

from paybridge_provider.dag_factories.dag_defaults import paybridge_dag
from paybridge_provider.failures import fail_fast
from paybridge_provider.hooks.store_hook import PayBridgeHook
from paybridge_provider.sensors.new_blocks import NewBlocksSensor

RECEIPTS = Asset("paybridge://receipts")


def chain_changed(report: dict[str, Any]) -> bool:
    """Did this poll change anything reconciliation reads (receipts or request states)?"""
    return bool(
        report.get("receipts_added")
        or report.get("receipts_removed")
        or report.get("state_changes")
        or report.get("reorgs")
    )


def scanned(reports: Any) -> list[dict[str, Any]]:
    """The reports of the chains that were scanned. Pulled from a mapped task group, Airflow
    hands over one report (not a list) when one chain ran, and nothing for skipped chains."""
    if isinstance(reports, dict):
        reports = [reports]
    return [r for r in reports or [] if isinstance(r, dict)]


def build_chain_watch_dag(
    dag_id: str = "paybridge_chain_watch",
    schedule: str | None = "* * * * *",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
    wait_seconds: float = 50.0,
) -> DAG:
    """### Chain watch (owner: finance ops; platform team for RPC nodes)
    Every minute, per watched chain: wait (deferred to the triggerer, no worker slot) until the
    chain has a block beyond the watcher's cursor, up to `wait_seconds`; then catch the chain
    up to its head. A chain without a new block is skipped (nothing to scan, no confirmation
    to record). Announce new receipts to reconciliation (the `paybridge://receipts` asset, only
    when receipts or request states changed), then expire quotes that lapsed unpaid.

    Safe to retry or overlap with a running watcher: the cursor and the receipts advance in
    one transaction and receipts are unique per (chain, tx, log or trace, direction).
    **Fails** (and alerts) when a chain could not be scanned; quotes are then not expired, so
    none lapses while its payments could not be seen.
    """
    with paybridge_dag(
        dag_id, schedule=schedule, doc=build_chain_watch_dag.__doc__, tags=["chain"]
    ) as dag:

        @task
        def watched_chains() -> list[str]:
            from paybridge.requests.monitored import monitored_chain_ids
            from paybridge.store.db import transaction

            with fail_fast("chain watch configuration"):
                hook = PayBridgeHook(paybridge_conn_id)
                config = hook.get_config()
                with transaction(hook.get_engine(config)) as session:
                    ids = monitored_chain_ids(session, datetime.now(UTC))
                return sorted(config.chain(chain_id).name for chain_id in ids)

        @task
        def watch_chain(chain: str) -> dict[str, Any]:
            from paybridge.chain_sync.watcher import ChainWatcher

            hook = PayBridgeHook(paybridge_conn_id)
            with fail_fast(f"chain {chain!r}"):
                config = hook.get_config()
                watcher = ChainWatcher(config.chain(chain), config.assets, hook.get_engine(config))
            report = watcher.poll()
            return {k: v for k, v in vars(report).items() if k != "reorgs"} | {
                "reorgs": [list(r) for r in report.reorgs]
            }

        @task(outlets=[RECEIPTS], trigger_rule="none_failed")  # skipped chains: no report
        def announce_receipts(reports: list[dict[str, Any]]) -> list[str]:
            """Skipped (no asset event, no reconcile run) when nothing changed."""
            changed = [r["chain"] for r in scanned(reports) if chain_changed(r)]
            if not changed:
                raise AirflowSkipException("no new receipts or state changes on any chain")
            return changed

        @task(trigger_rule="none_failed")  # also when no chain needed watching (none mapped)
        def expire_lapsed_quotes() -> int:
            from paybridge.requests.actions import expire_overdue
            from paybridge.store.db import transaction

            with transaction(PayBridgeHook(paybridge_conn_id).get_engine()) as session:
                return expire_overdue(session, actor=f"airflow:{dag_id}")

        @task_group
        def watch(chain: str) -> Any:
            """One chain: wait for a new block (deferrable), then scan."""
            waited = NewBlocksSensor(
                task_id="wait_for_new_block",
                chain=chain,
                paybridge_conn_id=paybridge_conn_id,
                wait_seconds=wait_seconds,
            )
            report = watch_chain(chain)
            waited >> report
            return report

        reports = watch.expand(chain=watched_chains())
        announce_receipts(reports)
        reports >> expire_lapsed_quotes()
    return dag
