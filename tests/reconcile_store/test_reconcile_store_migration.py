"""0004 merges the two heads and creates exactly the reconciliation models (SQLite and PG)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from paybridge.store.base import Base
from paybridge.store.db import MIGRATIONS_DIR, create_engine_for, migrate

TABLES = {"recon_runs", "recon_matches", "recon_exceptions", "recon_resolutions", "recon_tieouts"}


def test_single_head_matching_models_and_downgrade(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent
        with engine.connect() as connection:
            heads = connection.execute(sa.text("select version_num from alembic_version")).all()
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        # one head, the newest revision (0005_audit_keys follows 0004)
        assert heads == [(ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head(),)]
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        assert [d for d in diff if any(t in str(d) for t in TABLES)] == []

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0003_settlement_outbox")
        tables = set(sa.inspect(engine).get_table_names())
        assert not TABLES & tables and {"chain_receipts", "settlement_outbox"} <= tables
        migrate(engine)
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
