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
from paybridge_provider import connection_forms
from paybridge_provider.hooks.connection_extras import plain_extra


class PayBridgeHook(BaseHook):
    conn_name_attr = "paybridge_conn_id"
    default_conn_name = "paybridge_default"
    conn_type = "paybridge"
    hook_name = connection_forms.PAYBRIDGE_STORE["hook-name"]

    def __init__(self, paybridge_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.paybridge_conn_id = paybridge_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_forms.field_behaviour(connection_forms.PAYBRIDGE_STORE)

    @cached_property
    def _extra(self) -> dict[str, Any]:
        try:
            extra = self.get_connection(self.paybridge_conn_id).extra_dejson
        except AirflowNotFoundException:
            return {}
        return plain_extra(dict(extra), self.conn_type)

    def get_config(self) -> PayBridgeConfig:
        config = load_config(self._extra.get("config_path"))
        use_key_file(config.audit.key_file)  # the audit key ring, outside the store
        return config

    def database_url(self, config: PayBridgeConfig | None = None) -> str:
        return self._extra.get("database_url") or (config or self.get_config()).database_url

    def get_engine(self, config: PayBridgeConfig | None = None) -> Engine:
        """The store, migrated to the current schema (idempotent, cheap when up to date)."""
        engine = create_engine_for(self.database_url(config))
        migrate(engine)
        return engine

    def test_connection(self) -> tuple[bool, str]:
        """Config loads and the store answers with a schema; changes nothing (no migration)."""
        import sqlalchemy as sa

        try:
            config = load_config(self._extra.get("config_path"))
            engine = create_engine_for(self.database_url(config))
            with engine.connect() as conn:
                revision = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        except Exception as exc:  # the message is the answer the admin needs
            return False, f"PayBridge store or config not usable: {exc}. Run `paybridge init`?"
        finally:
            if "engine" in locals():
                engine.dispose()
        return True, f"store at schema revision {revision}, {len(config.chains)} chains configured"
