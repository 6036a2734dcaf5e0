"""Airflow DAG: stored invoices -> crypto payment requests (quote, deposit address, link)."""

from paybridge_provider.dag_factories import build_payment_requests_dag

dag = build_payment_requests_dag()
