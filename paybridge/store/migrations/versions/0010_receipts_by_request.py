"""Index chain receipts by payment request (only the matched ones): the portal's status poll,
GET /v1/payments/{id} and re-quotes read a payment's receipts, which was a full scan

Revision ID: 0010_receipts_by_request
Revises: 0009_superseded_quotes
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_receipts_by_request"
down_revision = "0009_superseded_quotes"
branch_labels = None
depends_on = None

_MATCHED = sa.text("payment_request_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_chain_receipts_request",
        "chain_receipts",
        ["payment_request_id"],
        sqlite_where=_MATCHED,
        postgresql_where=_MATCHED,
    )


def downgrade() -> None:
    op.drop_index("ix_chain_receipts_request", "chain_receipts")
