"""reconciliation runs, matches, exceptions queue, manual resolutions, tie-outs; merges heads

Revision ID: 0004_reconciliation
Revises: 0002_chain_watcher, 0003_settlement_outbox
"""

import sqlalchemy as sa
from alembic import op

import paybridge.store.types

revision = "0004_reconciliation"
down_revision = ("0002_chain_watcher", "0003_settlement_outbox")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recon_exceptions",
        sa.Column("exception_id", sa.String(length=40), nullable=False),
        sa.Column("queue_key", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("block_time", sa.String(length=40), nullable=True),
        sa.Column("asset", sa.String(length=42), nullable=True),
        sa.Column("from_address", sa.String(length=42), nullable=True),
        sa.Column("to_address", sa.String(length=42), nullable=True),
        sa.Column("amount", paybridge.store.types.BaseUnits(length=78), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("remaining_due", paybridge.store.types.BaseUnits(length=78), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("suggested_action", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("first_run_id", sa.String(length=40), nullable=False),
        sa.Column("last_run_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", paybridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", paybridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exception_id", name=op.f("pk_recon_exceptions")),
        sa.UniqueConstraint("queue_key", name=op.f("uq_recon_exceptions_queue_key")),
    )
    op.create_index("ix_recon_exceptions_status", "recon_exceptions", ["status"], unique=False)
    op.create_table(
        "recon_runs",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("started_at", paybridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("as_of", paybridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("engine_version", sa.String(length=32), nullable=False),
        sa.Column("config_sha256", sa.String(length=64), nullable=False),
        sa.Column("requests_sha256", sa.String(length=64), nullable=False),
        sa.Column("receipts_sha256", sa.String(length=64), nullable=False),
        sa.Column("rates_sha256", sa.String(length=64), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.Column("matches_auto", sa.Integer(), nullable=False),
        sa.Column("exceptions", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("settlements_enqueued", sa.Integer(), nullable=False),
        sa.Column("awaiting_finality", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_recon_runs")),
    )
    op.create_table(
        "recon_tieouts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tie_out", sa.String(length=32), nullable=False),
        sa.Column("checked_at", paybridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("expected", sa.String(length=96), nullable=False),
        sa.Column("actual", sa.String(length=96), nullable=False),
        sa.Column("difference", sa.String(length=96), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_tieouts")),
    )
    op.create_index(op.f("ix_recon_tieouts_tie_out"), "recon_tieouts", ["tie_out"], unique=False)
    op.create_table(
        "recon_matches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("amount_applied", paybridge.store.types.BaseUnits(length=78), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("paid_late", sa.Boolean(), nullable=False),
        sa.Column("fair_value", sa.String(length=64), nullable=False),
        sa.Column("rate", sa.String(length=64), nullable=False),
        sa.Column("rate_source", sa.String(length=256), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["recon_runs.run_id"], name=op.f("fk_recon_matches_run_id_recon_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_matches")),
    )
    op.create_index("ix_recon_matches_request", "recon_matches", ["request_id"], unique=False)
    op.create_index(op.f("ix_recon_matches_run_id"), "recon_matches", ["run_id"], unique=False)
    op.create_table(
        "recon_resolutions",
        sa.Column("resolution_id", sa.String(length=40), nullable=False),
        sa.Column("exception_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("amount", paybridge.store.types.BaseUnits(length=78), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("refund_address", sa.String(length=42), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=128), nullable=False),
        sa.Column("proposed_at", paybridge.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", paybridge.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settlement_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["exception_id"],
            ["recon_exceptions.exception_id"],
            name=op.f("fk_recon_resolutions_exception_id_recon_exceptions"),
        ),
        sa.PrimaryKeyConstraint("resolution_id", name=op.f("pk_recon_resolutions")),
    )
    op.create_index(
        op.f("ix_recon_resolutions_exception_id"),
        "recon_resolutions",
        ["exception_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_recon_resolutions_exception_id"), table_name="recon_resolutions")
    op.drop_table("recon_resolutions")
    op.drop_index(op.f("ix_recon_matches_run_id"), table_name="recon_matches")
    op.drop_index("ix_recon_matches_request", table_name="recon_matches")
    op.drop_table("recon_matches")
    op.drop_index(op.f("ix_recon_tieouts_tie_out"), table_name="recon_tieouts")
    op.drop_table("recon_tieouts")
    op.drop_table("recon_runs")
    op.drop_index("ix_recon_exceptions_status", table_name="recon_exceptions")
    op.drop_table("recon_exceptions")
