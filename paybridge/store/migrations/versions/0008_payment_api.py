"""Payment API: orders, API keys, users with roles, idempotency keys, webhook endpoints, the
webhook outbox (events, deliveries) and its delivery log, payment-link e-mails sent; a request's pricing currency may be
an asset symbol (an order priced in ETH), so the column widens to 16

Revision ID: 0008_payment_api
Revises: 0007_erp_invoice_accounting
"""

import sqlalchemy as sa
from alembic import op

from paybridge.store.types import UTCDateTime

revision = "0008_payment_api"
down_revision = "0007_erp_invoice_accounting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_requests") as batch:
        batch.alter_column(
            "currency", existing_type=sa.String(length=3), type_=sa.String(length=16)
        )
    op.create_table(
        "api_orders",
        sa.Column("payment_id", sa.String(40), sa.ForeignKey("payment_requests.id"), primary_key=True),
        sa.Column("api_key_id", sa.String(40), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_endpoint_id", sa.String(40), nullable=True),
        sa.Column("pricing_currency", sa.String(16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_api_orders_created", "api_orders", ["created_at"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "api_idempotency_keys",
        sa.Column("api_key_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("previous_secret", sa.String(128), nullable=True),
        sa.Column("previous_secret_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_webhook_events_payment", "webhook_events", ["payment_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(40), sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column(
            "endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("event_id", "endpoint_id"),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"]
    )
    op.create_table(
        "payment_notifications",
        sa.Column(
            "payment_id", sa.String(40), sa.ForeignKey("payment_requests.id"), primary_key=True
        ),
        sa.Column("to_address", sa.String(256), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id", sa.Integer(), sa.ForeignKey("webhook_deliveries.id"), nullable=False
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "payment_notifications",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_events",
        "webhook_endpoints",
        "api_idempotency_keys",
        "users",
        "api_keys",
        "api_orders",
    ):
        op.drop_table(table)
    with op.batch_alter_table("payment_requests") as batch:
        batch.alter_column(
            "currency", existing_type=sa.String(length=16), type_=sa.String(length=3)
        )
