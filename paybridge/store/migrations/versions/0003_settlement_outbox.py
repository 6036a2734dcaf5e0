"""settlement outbox, posting attempts, ERP invoice mirror, quarantine and sync watermarks

Revision ID: 0003_settlement_outbox
Revises: 0001_core
"""

from alembic import op
import sqlalchemy as sa

import paybridge.store.types  # noqa: F401  (exact money column types)


revision = "0003_settlement_outbox"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_outbox",
        sa.Column("settlement_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("erp_system", sa.String(length=32), nullable=False),
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("company", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_amount", paybridge.store.types.ExactDecimal(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", paybridge.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("erp_payment_id", sa.String(length=64), nullable=True),
        sa.Column("erp_journal_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("posted_at", paybridge.store.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status in ('pending','posting','posted','failed','needs_attention')",
            name=op.f("ck_settlement_outbox_status"),
        ),
        sa.PrimaryKeyConstraint("settlement_id", name=op.f("pk_settlement_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_settlement_outbox_idempotency_key")),
    )
    op.create_index(
        "ix_settlement_outbox_due", "settlement_outbox", ["status", "next_attempt_at"], unique=False
    )
    op.create_table(
        "settlement_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("settlement_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("started_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlement_outbox.settlement_id"],
            name=op.f("fk_settlement_attempts_settlement_id_settlement_outbox"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_attempts")),
    )
    op.create_index(
        op.f("ix_settlement_attempts_settlement_id"),
        "settlement_attempts",
        ["settlement_id"],
        unique=False,
    )
    op.create_table(
        "erp_open_invoices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("erp_system", sa.String(length=32), nullable=False),
        sa.Column("company", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=128), nullable=False),
        sa.Column("invoice_number", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("amount", paybridge.store.types.ExactDecimal(), nullable=False),
        sa.Column("total", paybridge.store.types.ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("last_modified", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("synced_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_open_invoices")),
        sa.UniqueConstraint(
            "connection", "company", "invoice_id", name=op.f("uq_erp_open_invoices_connection")
        ),
    )
    op.create_table(
        "erp_invoice_quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("erp_system", sa.String(length=32), nullable=False),
        sa.Column("company", sa.String(length=64), nullable=True),
        sa.Column("invoice_id", sa.String(length=128), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("quarantined_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_invoice_quarantine")),
        sa.UniqueConstraint(
            "connection", "invoice_id", name=op.f("uq_erp_invoice_quarantine_connection")
        ),
    )
    op.create_table(
        "erp_sync_state",
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("erp_system", sa.String(length=32), nullable=False),
        sa.Column("watermark", sa.String(length=128), nullable=True),
        sa.Column("updated_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection", name=op.f("pk_erp_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("erp_sync_state")
    op.drop_table("erp_invoice_quarantine")
    op.drop_table("erp_open_invoices")
    op.drop_index(op.f("ix_settlement_attempts_settlement_id"), table_name="settlement_attempts")
    op.drop_table("settlement_attempts")
    op.drop_index("ix_settlement_outbox_due", table_name="settlement_outbox")
    op.drop_table("settlement_outbox")
