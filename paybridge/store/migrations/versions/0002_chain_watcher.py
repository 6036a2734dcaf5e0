"""chain watcher: cursors, recent blocks, receipts

Revision ID: 0002_chain_watcher
Revises: 0001_core
"""

from alembic import op
import sqlalchemy as sa

import paybridge.store.types  # noqa: F401  (exact money column types)


revision = "0002_chain_watcher"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_cursors",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chain_name", sa.String(length=64), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        sa.Column("range_size", sa.Integer(), nullable=False),
        sa.Column("head_block", sa.BigInteger(), nullable=True),
        sa.Column("safe_block", sa.BigInteger(), nullable=True),
        sa.Column("finalized_block", sa.BigInteger(), nullable=True),
        sa.Column("halted_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_chain_cursors")),
    )
    op.create_table(
        "chain_blocks",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number", name=op.f("pk_chain_blocks")),
    )
    op.create_table(
        "chain_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("event_key", sa.String(length=96), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("trace_address", sa.String(length=96), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("asset_symbol", sa.String(length=16), nullable=False),
        sa.Column("asset_address", sa.String(length=42), nullable=True),
        sa.Column("from_address", sa.String(length=42), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("watched_address", sa.String(length=42), nullable=False),
        sa.Column("amount", paybridge.store.types.BaseUnits(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_timestamp", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payment_request_id", sa.String(length=40), nullable=True),
        sa.Column("first_seen_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", paybridge.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_receipts")),
        sa.UniqueConstraint(
            "chain_id",
            "tx_hash",
            "event_key",
            "direction",
            name=op.f("uq_chain_receipts_chain_id"),
        ),
    )
    op.create_index(
        "ix_chain_receipts_chain_block", "chain_receipts", ["chain_id", "block_number"]
    )
    op.create_index("ix_chain_receipts_watched", "chain_receipts", ["watched_address"])


def downgrade() -> None:
    op.drop_index("ix_chain_receipts_watched", table_name="chain_receipts")
    op.drop_index("ix_chain_receipts_chain_block", table_name="chain_receipts")
    op.drop_table("chain_receipts")
    op.drop_table("chain_blocks")
    op.drop_table("chain_cursors")
