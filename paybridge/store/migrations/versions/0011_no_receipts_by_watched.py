"""Drop the index of chain receipts by watched address: no query reads receipts by it (they
are read by payment request, by chain and block, or by their key), and every receipt the
watcher writes paid for it (a sixth of a scan's insert time with every recipient watched)

Revision ID: 0011_no_receipts_by_watched
Revises: 0010_receipts_by_request
"""

from alembic import op

revision = "0011_no_receipts_by_watched"
down_revision = "0010_receipts_by_request"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_chain_receipts_watched", table_name="chain_receipts")


def downgrade() -> None:
    op.create_index("ix_chain_receipts_watched", "chain_receipts", ["watched_address"])
