"""The 0002 migration creates exactly the chain-watcher models, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from paybridge.store.base import Base
from paybridge.store.db import MIGRATIONS_DIR, create_engine_for, migrate

CHAIN_TABLES = {"chain_blocks", "chain_cursors", "chain_receipts"}


def test_migration_matches_models_and_downgrades(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        migrate(engine)
        assert set(sa.inspect(engine).get_table_names()) >= CHAIN_TABLES
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in diff if any(t in str(d) for t in CHAIN_TABLES)] == []

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001_core")
        assert not CHAIN_TABLES & set(sa.inspect(engine).get_table_names())
        migrate(engine)
        assert set(sa.inspect(engine).get_table_names()) >= CHAIN_TABLES
    finally:
        engine.dispose()
