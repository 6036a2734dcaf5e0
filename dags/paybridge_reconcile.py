"""Airflow DAG: reconcile receipts with payment requests and queue settlements for the ERP."""

from paybridge_provider.dag_factories import build_reconcile_dag

dag = build_reconcile_dag()
