"""audit log: key id per entry (keyed HMAC-SHA256 hashes; NULL for older unkeyed entries)

Revision ID: 0006_audit_keys
Revises: 0005_event_key

Existing entries keep their plain SHA-256 hashes and a NULL key id: they still verify, and
the first keyed entry after them (or `paybridge audit seal-legacy`) puts them under a key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_keys"
down_revision = "0005_event_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
