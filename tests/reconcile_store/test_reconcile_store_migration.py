"""0004 merges the two heads and creates exactly the reconciliation models (SQLite and PG)."""

from __future__ import annotations

from datetime import UTC, datetime

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
        # one head, the newest revision (0006_audit_keys follows 0005_event_key)
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


def test_0005_names_the_transfer_of_rows_recorded_before_event_keys(database_url: str) -> None:
    """Rows written under 0004 (log index 0 for every native transfer) get the event key the
    watcher's receipts name unambiguously; their exception ids do not change."""
    engine = create_engine_for(database_url)
    try:
        migrate(engine, "0004_reconciliation")
        batch, token = "0x" + "aa" * 32, "0x" + "bb" * 32
        a, b, c = ("0x" + d * 40 for d in "abc")
        now = datetime(2026, 1, 5, 10, tzinfo=UTC)
        meta = sa.MetaData()
        meta.reflect(
            engine, only=["chain_receipts", "recon_exceptions", "recon_matches", "recon_runs"]
        )
        receipt = {
            "chain_id": 1,
            "log_index": None,
            "trace_address": None,
            "kind": "internal",
            "direction": "in",
            "asset_symbol": "ETH",
            "asset_address": None,
            "from_address": "0x" + "ee" * 20,
            "amount": "1",
            "block_number": 5,
            "block_hash": "0x" + "00" * 32,
            "block_timestamp": now,
            "state": "finalized",
            "payment_request_id": None,
            "first_seen_at": now,
            "updated_at": now,
        }
        exception = {
            "chain_id": 1,
            "block_time": "",
            "asset": "native",
            "from_address": "",
            "amount": "1",
            "request_id": None,
            "customer_id": None,
            "remaining_due": None,
            "detail": "",
            "suggested_action": "",
            "status": "open",
            "resolution_note": None,
            "first_run_id": "run-0",
            "last_run_id": "run-0",
            "created_at": now,
            "updated_at": now,
        }
        with engine.begin() as conn:
            conn.execute(
                meta.tables["chain_receipts"].insert(),
                [
                    {
                        **receipt,
                        "tx_hash": batch,
                        "event_key": "trace:0",
                        "to_address": a,
                        "watched_address": a,
                    },
                    {
                        **receipt,
                        "tx_hash": batch,
                        "event_key": "trace:1",
                        "to_address": b,
                        "watched_address": b,
                    },
                    {
                        **receipt,
                        "tx_hash": token,
                        "event_key": "log:5",
                        "to_address": c,
                        "watched_address": c,
                        "kind": "erc20",
                    },
                ],
            )
            conn.execute(
                meta.tables["recon_exceptions"].insert(),
                [
                    {
                        **exception,
                        "exception_id": "EX-1",
                        "queue_key": f"AFTER_WINDOW:1:{batch}:0",
                        "reason": "AFTER_WINDOW",
                        "tx_hash": batch,
                        "log_index": 0,
                        "to_address": b,
                    },
                    {
                        **exception,
                        "exception_id": "EX-2",
                        "queue_key": f"OVERPAYMENT:1:{token}:5",
                        "reason": "OVERPAYMENT",
                        "tx_hash": token,
                        "log_index": 5,
                        "to_address": c,
                    },
                ],
            )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select exception_id, queue_key, event_key from recon_exceptions order by 1"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("EX-1", f"AFTER_WINDOW:1:{batch}:trace:1", "trace:1"),
            ("EX-2", f"OVERPAYMENT:1:{token}:log:5", "log:5"),
        ]
    finally:
        engine.dispose()
