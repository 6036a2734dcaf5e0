"""PayBridgeHook: where a task finds PayBridge's config and store.

An Airflow Connection (default ``paybridge_default``) may carry them in its extra, e.g.
``{"database_url": "postgresql+psycopg://...", "config_path": "/opt/paybridge/paybridge.toml"}``.
Without that connection, the PAYBRIDGE_DATABASE_URL / PAYBRIDGE_CONFIG environment (or the
built-in defaults) apply, the same as for the CLI.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from sqlalchemy.engine import Engine

from paybridge.audit.keys import use_key_file
from paybridge.config import PayBridgeConfig, load_config
from paybridge.store.db import create_engine_for, migrate


class PayBridgeHook(BaseHook):
    conn_name_attr = "paybridge_conn_id"
    default_conn_name = "paybridge_default"
    conn_type = "paybridge"
    hook_name = "PayBridge"

    def __init__(self, paybridge_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.paybridge_conn_id = paybridge_conn_id

    @cached_property
    def _extra(self) -> dict[str, Any]:
        try:
            return self.get_connection(self.paybridge_conn_id).extra_dejson
        except AirflowNotFoundException:
            return {}

    def get_config(self) -> PayBridgeConfig:
        config = load_config(self._extra.get("config_path"))
        use_key_file(config.audit.key_file)  # the audit key ring, outside the store
        return config

    def get_engine(self, config: PayBridgeConfig | None = None) -> Engine:
        """The store, migrated to the current schema (idempotent, cheap when up to date)."""
        url = self._extra.get("database_url") or (config or self.get_config()).database_url
        engine = create_engine_for(url)
        migrate(engine)
        return engine
