"""Airflow DAG: open invoices from every ERP connection -> store -> payment requests."""

from paybridge_provider.dag_factories import build_erp_sync_dag

dag = build_erp_sync_dag()
