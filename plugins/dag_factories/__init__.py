"""DAG factories: each DAG file in ``dags/`` is one call to one of these."""

from plugins.dag_factories.payment_requests import build_payment_requests_dag

__all__ = ["build_payment_requests_dag"]
