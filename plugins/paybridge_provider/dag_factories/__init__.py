"""DAG factories: each DAG file in ``dags/`` is one call to one of these."""

from paybridge_provider.dag_factories.chain_watch_dag import build_chain_watch_dag
from paybridge_provider.dag_factories.erp_dags import (
    build_erp_sync_dag,
    build_settlement_posting_dag,
)
from paybridge_provider.dag_factories.monitor_dag import build_monitor_dag
from paybridge_provider.dag_factories.payment_requests_dag import build_payment_requests_dag
from paybridge_provider.dag_factories.reconcile_dag import build_reconcile_dag

__all__ = [
    "build_chain_watch_dag",
    "build_erp_sync_dag",
    "build_monitor_dag",
    "build_payment_requests_dag",
    "build_reconcile_dag",
    "build_settlement_posting_dag",
]
