"""The API's tables: the migration builds what the models declare, and downgrades cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from paybridge.store.base import Base
from paybridge.store.db import MIGRATIONS_DIR, create_engine_for, migrate

API_TABLES = {
    "api_orders",
    "api_keys",
    "users",
    "api_idempotency_keys",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "payment_notifications",
}


def test_migration_matches_models_and_downgrades(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        migrate(engine)
        assert set(sa.inspect(engine).get_table_names()) >= API_TABLES
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        watched = (*API_TABLES, "payment_requests")
        assert [d for d in diff if any(f"'{t}'" in str(d) for t in watched)] == []
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0007_erp_invoice_accounting")
        assert not API_TABLES & set(sa.inspect(engine).get_table_names())
        migrate(engine)
        assert set(sa.inspect(engine).get_table_names()) >= API_TABLES
    finally:
        engine.dispose()
