"""Monitoring DAG: ``paybridge status`` every few minutes; a crossed threshold fails and alerts."""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import DAG, task

from paybridge_provider.dag_factories.dag_defaults import paybridge_dag
from paybridge_provider.failures import fail_fast, refuse
from paybridge_provider.hooks.store_hook import PayBridgeHook


def build_monitor_dag(
    dag_id: str = "paybridge_monitor",
    schedule: str | None = "*/5 * * * *",
    paybridge_conn_id: str = PayBridgeHook.default_conn_name,
) -> DAG:
    """### Monitor (owner: platform team; alerts go to finance ops too)
    Every 5 minutes: the figures of `paybridge status` (chain lag and finality, settlements
    waiting per ERP connection, open exceptions, last successful DAG runs) against the
    thresholds in `[status]` of paybridge.toml. **Fails** (and alerts) naming each threshold
    crossed and where to look. Not retried: the next run checks again.
    """
    with paybridge_dag(
        dag_id,
        schedule=schedule,
        doc=build_monitor_dag.__doc__,
        tags=["monitoring"],
        default_args={"retries": 0},
    ) as dag:

        @task
        def check_status() -> dict[str, Any]:
            from paybridge.health import collect_status

            with fail_fast("status check"):
                hook = PayBridgeHook(paybridge_conn_id)
                config = hook.get_config()
                airflow_db = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
                report = collect_status(hook.get_engine(config), config, airflow_db_url=airflow_db)
            if report.breaches:
                refuse(
                    f"{len(report.breaches)} thresholds crossed: " + "; ".join(report.breaches),
                    "act on each line above; `paybridge status` shows all figures",
                )
            return report.as_dict()

        check_status()
    return dag
