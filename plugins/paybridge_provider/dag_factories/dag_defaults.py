"""What every PayBridge DAG shares: no catch-up, one run at a time, retries, alerts, tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, Param

from paybridge_provider.alerts import alert_on_failure

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
#: ERP calls: a few patient retries (the connectors retry 429/5xx themselves first).
ERP_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    # Airflow 3 reads this as the multiplier (True == 1.0: no backoff at all): 1, 2, 4 minutes
    # (Airflow adds up to the same again as jitter), never more than 10.
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
#: Chain and store work: retry soon, the next schedule comes quickly anyway.
QUICK_RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=30)}
OWNER = {"owner": "finance-ops"}

ERP_CONNECTION_PARAM = Param(
    None,
    type=["null", "string"],
    title="ERP connection",
    description="One Airflow Connection id (e.g. netsuite_default); empty: every connection "
    "in the Variable paybridge_erp_connections",
)
DRY_RUN_PARAM = Param(
    False, type="boolean", title="Dry run", description="List what is due; post nothing"
)
AS_OF_PARAM = Param(
    None,
    type=["null", "string"],
    format="date-time",
    title="As of",
    description="Reconcile as at this UTC time (ISO 8601); empty: now",
)


def paybridge_dag(
    dag_id: str,
    *,
    schedule: str | Sequence[Asset] | None,
    doc: str | None,
    tags: Sequence[str] = (),
    default_args: Mapping[str, Any] = QUICK_RETRIES,
    max_active_runs: int = 1,
    params: Mapping[str, Param] | None = None,
) -> DAG:
    return DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=max_active_runs,
        default_args={**OWNER, **default_args, "on_failure_callback": alert_on_failure},
        tags=["paybridge", *tags],
        doc_md=doc,
        params=dict(params or {}),
    )
