"""recon_matches and recon_exceptions carry the transfer's event key (issue 8)

A receipt is (chain id, tx hash, event key): ``log:<index>``, ``tx`` or ``trace:<path>``. Runs
before this one keyed matches and exceptions on a log index that was 0 for every native
transfer, so two transfers of one transaction shared a key. ``log_index`` stays (nullable, set
for logs only) so nothing already recorded is lost; ``event_key`` is filled for existing rows
where the watcher's receipts say unambiguously which transfer it was, and exception queue keys
are rewritten to the new form (their ``EX-...`` ids do not change). Rows left ambiguous keep
their old queue key: the next run resolves them as no longer raised and opens the exact ones.

Revision ID: 0005_event_key
Revises: 0004_reconciliation
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_event_key"
down_revision = "0004_reconciliation"
branch_labels = None
depends_on = None

receipts = sa.table(
    "chain_receipts",
    sa.column("chain_id"),
    sa.column("tx_hash"),
    sa.column("event_key"),
    sa.column("direction"),
    sa.column("to_address"),
)


def _event_key(
    connection: sa.Connection, chain_id: int, tx_hash: str, to: str | None, log_index: int | None
) -> str | None:
    """The receipt's event key when the store names exactly one candidate."""
    query = sa.select(receipts.c.event_key).where(
        receipts.c.chain_id == chain_id,
        sa.func.lower(receipts.c.tx_hash) == tx_hash.lower(),
        receipts.c.direction == "in",
    )
    if to:
        query = query.where(sa.func.lower(receipts.c.to_address) == to.lower())
    keys = sorted(set(connection.execute(query).scalars()))
    if len(keys) == 1:
        return keys[0]
    if log_index is not None and f"log:{log_index}" in keys:
        return f"log:{log_index}"
    return None


def _backfill(connection: sa.Connection) -> None:
    exceptions = sa.table(
        "recon_exceptions",
        sa.column("exception_id"),
        sa.column("queue_key"),
        sa.column("reason"),
        sa.column("chain_id"),
        sa.column("tx_hash"),
        sa.column("log_index"),
        sa.column("to_address"),
        sa.column("event_key"),
    )
    used = set(connection.execute(sa.select(exceptions.c.queue_key)).scalars())
    rows = connection.execute(
        sa.select(exceptions).where(exceptions.c.tx_hash.is_not(None))
    ).all()
    for row in rows:
        key = _event_key(connection, row.chain_id, row.tx_hash, row.to_address, row.log_index)
        if key is None:
            continue
        suffix = row.queue_key[row.queue_key.rfind("#") :] if "#" in row.queue_key else ""
        queue_key = f"{row.reason}:{row.chain_id}:{row.tx_hash}:{key}{suffix}"
        values: dict[str, str] = {"event_key": key}
        if queue_key not in used:
            used.discard(row.queue_key)
            used.add(queue_key)
            values["queue_key"] = queue_key
        connection.execute(
            sa.update(exceptions)
            .where(exceptions.c.exception_id == row.exception_id)
            .values(**values)
        )
    matches = sa.table(
        "recon_matches",
        sa.column("id"),
        sa.column("request_id"),
        sa.column("chain_id"),
        sa.column("tx_hash"),
        sa.column("log_index"),
        sa.column("event_key"),
    )
    requests = sa.table("payment_requests", sa.column("id"), sa.column("deposit_address"))
    rows = connection.execute(
        sa.select(matches, requests.c.deposit_address).select_from(
            matches.outerjoin(requests, requests.c.id == matches.c.request_id)
        )
    ).all()
    for row in rows:
        key = _event_key(connection, row.chain_id, row.tx_hash, row.deposit_address, row.log_index)
        if key is not None:
            connection.execute(
                sa.update(matches).where(matches.c.id == row.id).values(event_key=key)
            )


def upgrade() -> None:
    with op.batch_alter_table("recon_matches") as batch:
        batch.add_column(sa.Column("event_key", sa.String(length=96), nullable=True))
        batch.alter_column("log_index", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("recon_exceptions") as batch:
        batch.add_column(sa.Column("event_key", sa.String(length=96), nullable=True))
    _backfill(op.get_bind())


def downgrade() -> None:
    op.execute("update recon_matches set log_index = 0 where log_index is null")
    with op.batch_alter_table("recon_exceptions") as batch:
        batch.drop_column("event_key")
    with op.batch_alter_table("recon_matches") as batch:
        batch.drop_column("event_key")
        batch.alter_column("log_index", existing_type=sa.Integer(), nullable=False)
