"""ERP tasks back off between retries: Airflow's own retry arithmetic on the real defaults."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace


def test_erp_retries_back_off_exponentially_up_to_a_cap() -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from paybridge_provider.dag_factories.dag_defaults import ERP_RETRIES, START_DATE

    with DAG("retries_probe", start_date=START_DATE, schedule=None, default_args=ERP_RETRIES):
        task = EmptyOperator(task_id="post_settlements")
    ended = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def wait_before(try_number: int) -> timedelta:
        attempt = SimpleNamespace(
            task=task,
            try_number=try_number,
            end_date=ended,
            retry_delay_override=None,
            dag_id="retries_probe",
            task_id="post_settlements",
            logical_date=ended,
            log=logging.getLogger("probe"),
        )
        return TaskInstance.next_retry_datetime(attempt) - ended  # type: ignore[arg-type]

    waits = [wait_before(n) for n in (1, 2, 3, 6)]
    # base 1 min doubling per try; Airflow adds a deterministic jitter of up to the same again
    for wait, base in zip(waits[:3], (1, 2, 4), strict=True):
        assert timedelta(minutes=base) <= wait < timedelta(minutes=2 * base), waits
    assert waits[0] < waits[1] < waits[2]
    assert waits[3] == timedelta(minutes=10)  # 32 min uncapped: the cap holds
