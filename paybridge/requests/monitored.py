"""Which chains have payment requests whose deposit addresses are still watched.

One definition for the CLI watcher and the chain-watch DAG: a request is monitored until its
``monitor_until`` (quote expiry plus the late-payment window), the same bound the watcher uses
for the addresses it matches.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.models import PaymentRequest


def monitored_chain_ids(session: Session, now: datetime | None = None) -> dict[int, int]:
    """Chain id -> number of payment requests still monitored at ``now``."""
    rows = session.execute(
        sa.select(PaymentRequest.chain_id, sa.func.count())
        .where(PaymentRequest.monitor_until >= (now or datetime.now(UTC)))
        .group_by(PaymentRequest.chain_id)
        .order_by(PaymentRequest.chain_id)
    )
    return {chain_id: count for chain_id, count in rows}
