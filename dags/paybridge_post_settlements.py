"""Airflow DAG: post queued settlements to the ERPs, exactly once."""

from plugins.dag_factories import build_settlement_posting_dag

dag = build_settlement_posting_dag()
