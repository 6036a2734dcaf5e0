"""NetSuiteHook: a NetSuite connection's settings from an Airflow Connection.

ERP admins keep credentials in Airflow (UI, secrets backend or ``AIRFLOW_CONN_<ID>``). The form
maps Login/Password to the integration record's consumer key/secret and Host to an optional REST
base URL; the extra holds the other ``NetSuiteConnectionConfig`` fields (account, token_id,
token_secret, accounts, eligibility_filter, payment_chain, payment_asset; extra values win).
The Connection id becomes the connection name PayBridge records.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector

from paybridge_provider import connection_forms
from paybridge_provider.hooks.connection_extras import plain_extra


class NetSuiteHook(BaseHook):
    conn_name_attr = "netsuite_conn_id"
    default_conn_name = "netsuite_default"
    conn_type = "netsuite"
    hook_name = connection_forms.NETSUITE["hook-name"]

    def __init__(self, netsuite_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.netsuite_conn_id = netsuite_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_forms.field_behaviour(connection_forms.NETSUITE)

    def get_settings(self) -> NetSuiteConnectionConfig:
        conn = self.get_connection(self.netsuite_conn_id)
        standard = {"consumer_key": conn.login, "consumer_secret": conn.password}
        if conn.host:
            standard["base_url"] = conn.host
        fields = {k: v for k, v in standard.items() if v} | plain_extra(
            dict(conn.extra_dejson), self.conn_type
        )
        return NetSuiteConnectionConfig(**{**fields, "name": self.netsuite_conn_id})

    def get_config(self) -> NetSuiteConnectionConfig:
        return self.get_settings()

    def get_conn(self) -> NetSuiteConnector:
        """A connector with one pooled HTTP client; use it as a context manager."""
        return NetSuiteConnector(self.get_settings())

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's "Test" button: SuiteQL and record access with these credentials."""
        try:
            with self.get_conn() as connector:
                check = connector.test_connection()
        except Exception as exc:  # a bad form must answer, not crash the UI
            return False, f"connection {self.netsuite_conn_id!r} is not usable: {exc}"
        return check.ok, check.message
