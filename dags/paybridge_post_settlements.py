"""Airflow DAG: post queued settlements to the ERPs, exactly once."""

from paybridge_provider.dag_factories import build_settlement_posting_dag

dag = build_settlement_posting_dag()
