"""Chain watch DAG: one mapped task per chain that has requests still being monitored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, Asset, task

from plugins.dag_factories.common import paybridge_dag
from plugins.hooks.paybridge import PayBridgeHook

RECEIPTS = Asset("paybridge://receipts")


def build_chain_watch_dag(
    dag_id: str = "paybridge_chain_watch",
    schedule: str | None = "* * * * *",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """Catch every watched chain up to its head, then expire quotes that lapsed unpaid.

    Safe to retry or overlap with a running watcher: the cursor and the receipts advance in
    one transaction and receipts are unique per (chain, tx, log or trace, direction).
    """
    with paybridge_dag(
        dag_id, schedule=schedule, doc=build_chain_watch_dag.__doc__, tags=["chain"]
    ) as dag:

        @task
        def watched_chains() -> list[str]:
            from paybridge.requests.monitored import monitored_chain_ids
            from paybridge.store.db import transaction

            hook = PayBridgeHook(paybridge_conn_id)
            config = hook.get_config()
            with transaction(hook.get_engine(config)) as session:
                ids = monitored_chain_ids(session, datetime.now(UTC))
            return sorted(config.chain(chain_id).name for chain_id in ids)

        @task(outlets=[RECEIPTS])
        def watch_chain(chain: str) -> dict[str, Any]:
            from paybridge.chain_sync.watcher import ChainWatcher

            hook = PayBridgeHook(paybridge_conn_id)
            config = hook.get_config()
            watcher = ChainWatcher(config.chain(chain), config.assets, hook.get_engine(config))
            report = watcher.poll()
            return {k: v for k, v in vars(report).items() if k != "reorgs"} | {
                "reorgs": [list(r) for r in report.reorgs]
            }

        @task(trigger_rule="all_done")
        def expire_lapsed_quotes() -> int:
            from paybridge.requests.actions import expire_overdue
            from paybridge.store.db import transaction

            with transaction(PayBridgeHook(paybridge_conn_id).get_engine()) as session:
                return expire_overdue(session, actor=f"airflow:{dag_id}")

        watch_chain.expand(chain=watched_chains()) >> expire_lapsed_quotes()
    return dag
