"""DAG factories: each DAG file in ``dags/`` is one call to one of these."""

from plugins.dag_factories.chain import build_chain_watch_dag
from plugins.dag_factories.erp import build_erp_sync_dag, build_settlement_posting_dag
from plugins.dag_factories.payment_requests import build_payment_requests_dag
from plugins.dag_factories.reconcile import build_reconcile_dag

__all__ = [
    "build_chain_watch_dag",
    "build_erp_sync_dag",
    "build_payment_requests_dag",
    "build_reconcile_dag",
    "build_settlement_posting_dag",
]
