"""NetSuiteHook: a NetSuite connection's settings from an Airflow Connection.

ERP admins keep credentials in Airflow (UI, secrets backend or ``AIRFLOW_CONN_<ID>``); the
Connection's extra holds the fields of ``NetSuiteConnectionConfig`` (account, consumer_key,
consumer_secret, token_id, token_secret, accounts, eligibility_filter, payment_chain,
payment_asset, base_url). The Connection id becomes the connection name PayBridge records.
"""

from __future__ import annotations

from airflow.sdk import BaseHook

from connectors.erp.netsuite.config import NetSuiteConnectionConfig
from connectors.erp.netsuite.connector import NetSuiteConnector


class NetSuiteHook(BaseHook):
    conn_name_attr = "netsuite_conn_id"
    default_conn_name = "netsuite_default"
    conn_type = "netsuite"
    hook_name = "NetSuite (PayBridge)"

    def __init__(self, netsuite_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.netsuite_conn_id = netsuite_conn_id

    def get_settings(self) -> NetSuiteConnectionConfig:
        extra = dict(self.get_connection(self.netsuite_conn_id).extra_dejson)
        return NetSuiteConnectionConfig(**{**extra, "name": self.netsuite_conn_id})

    def get_conn(self) -> NetSuiteConnector:
        """A connector with one pooled HTTP client; use it as a context manager."""
        return NetSuiteConnector(self.get_settings())
