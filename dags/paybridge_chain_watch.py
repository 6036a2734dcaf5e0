"""Airflow DAG: watch every chain with open payment requests for incoming transfers."""

from paybridge_provider.dag_factories import build_chain_watch_dag

dag = build_chain_watch_dag()
