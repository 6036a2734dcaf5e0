"""core tables

Revision ID: 0001_core
Revises: 
"""

from alembic import op
import sqlalchemy as sa

import paybridge.store.types


revision = '0001_core'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', paybridge.store.types.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    op.create_table('derivation_counters',
    sa.Column('xpub_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('next_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('xpub_fingerprint', name=op.f('pk_derivation_counters'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('erp_system', sa.String(length=32), nullable=False),
    sa.Column('company', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('amount', paybridge.store.types.ExactDecimal(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('chain', sa.String(length=32), nullable=False),
    sa.Column('asset_symbol', sa.String(length=16), nullable=False),
    sa.Column('customer_email', sa.String(length=256), nullable=True),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('imported_at', paybridge.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('erp_system', 'company', 'invoice_id', name=op.f('uq_invoices_erp_system'))
    )
    op.create_table('payment_requests',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('erp_system', sa.String(length=32), nullable=False),
    sa.Column('company', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('invoice_amount', paybridge.store.types.ExactDecimal(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('chain_id', sa.Integer(), nullable=False),
    sa.Column('asset_symbol', sa.String(length=16), nullable=False),
    sa.Column('asset_address', sa.String(length=42), nullable=True),
    sa.Column('asset_decimals', sa.Integer(), nullable=False),
    sa.Column('xpub_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('derivation_index', sa.Integer(), nullable=False),
    sa.Column('deposit_address', sa.String(length=42), nullable=False),
    sa.Column('amount_due', paybridge.store.types.BaseUnits(), nullable=False),
    sa.Column('rate_price', paybridge.store.types.ExactDecimal(), nullable=False),
    sa.Column('rate_source', sa.String(length=256), nullable=False),
    sa.Column('rate_as_of', paybridge.store.types.UTCDateTime(), nullable=False),
    sa.Column('rate_round_id', sa.String(length=40), nullable=True),
    sa.Column('quote_expires_at', paybridge.store.types.UTCDateTime(), nullable=False),
    sa.Column('monitor_until', paybridge.store.types.UTCDateTime(), nullable=False),
    sa.Column('payment_uri', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('paid_partial', sa.Boolean(), nullable=False),
    sa.Column('paid_over', sa.Boolean(), nullable=False),
    sa.Column('paid_late', sa.Boolean(), nullable=False),
    sa.Column('marked', sa.Boolean(), nullable=False),
    sa.Column('amount_received', paybridge.store.types.BaseUnits(), nullable=False),
    sa.Column('amount_confirmed', paybridge.store.types.BaseUnits(), nullable=False),
    sa.Column('created_at', paybridge.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', paybridge.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_requests')),
    sa.UniqueConstraint('deposit_address', name=op.f('uq_payment_requests_deposit_address')),
    sa.UniqueConstraint('erp_system', 'company', 'invoice_id', name=op.f('uq_payment_requests_erp_system')),
    sa.UniqueConstraint('xpub_fingerprint', 'derivation_index', name=op.f('uq_payment_requests_xpub_fingerprint'))
    )
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.create_index('ix_payment_requests_monitor_until', ['monitor_until'], unique=False)
        batch_op.create_index('ix_payment_requests_status', ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_requests_status')
        batch_op.drop_index('ix_payment_requests_monitor_until')

    op.drop_table('payment_requests')
    op.drop_table('invoices')
    op.drop_table('derivation_counters')
    op.drop_table('audit_log')
    op.drop_table('audit_head')
