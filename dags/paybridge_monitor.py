"""Airflow DAG: PayBridge health (chain lag, settlements waiting, exceptions) against thresholds."""

from paybridge_provider.dag_factories import build_monitor_dag

dag = build_monitor_dag()
