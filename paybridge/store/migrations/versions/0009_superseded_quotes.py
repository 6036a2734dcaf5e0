"""Quotes a payer replaced on the portal, kept watched until their own late-payment window ends

Revision ID: 0009_superseded_quotes
Revises: 0008_payment_api
"""

import sqlalchemy as sa
from alembic import op

from paybridge.store.types import BaseUnits, ExactDecimal, UTCDateTime

revision = "0009_superseded_quotes"
down_revision = "0008_payment_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "superseded_quotes",
        sa.Column(
            "payment_request_id",
            sa.String(40),
            sa.ForeignKey("payment_requests.id"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("asset_symbol", sa.String(16), nullable=False),
        sa.Column("asset_address", sa.String(42), nullable=True),
        sa.Column("asset_decimals", sa.Integer(), nullable=False),
        sa.Column("deposit_address", sa.String(42), nullable=False),
        sa.Column("amount_due", BaseUnits(), nullable=False),
        sa.Column("rate_price", ExactDecimal(), nullable=False),
        sa.Column("rate_source", sa.String(256), nullable=False),
        sa.Column("quote_expires_at", UTCDateTime(), nullable=False),
        sa.Column("monitor_until", UTCDateTime(), nullable=False),
        sa.Column("payment_uri", sa.Text(), nullable=False),
        sa.Column("replaced_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_superseded_quotes_watch", "superseded_quotes", ["chain_id", "monitor_until"]
    )


def downgrade() -> None:
    op.drop_index("ix_superseded_quotes_watch", "superseded_quotes")
    op.drop_table("superseded_quotes")
