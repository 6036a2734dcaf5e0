"""ERP invoice mirror: the invoice's A/R account, its company's base currency, and its ERP
status, read at sync time (a payment posts against the invoice's own A/R account; an invoice
that left "open" in the ERP withdraws its payment request)

Revision ID: 0007_erp_invoice_accounting
Revises: 0006_audit_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_erp_invoice_accounting"
down_revision = "0006_audit_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("erp_open_invoices") as batch:
        batch.add_column(sa.Column("ar_account", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("base_currency", sa.String(length=3), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="open")
        )


def downgrade() -> None:
    with op.batch_alter_table("erp_open_invoices") as batch:
        batch.drop_column("status")
        batch.drop_column("base_currency")
        batch.drop_column("ar_account")
