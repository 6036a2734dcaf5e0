"""Which chains have payment requests whose deposit addresses are still watched.

One definition for the CLI watcher and the chain-watch DAG: a request is monitored until its
``monitor_until`` (quote expiry plus the late-payment window), the same bound the watcher uses
for the addresses it matches.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.models import PaymentRequest, SupersededQuote


def monitored_chain_ids(session: Session, now: datetime | None = None) -> dict[int, int]:
    """Chain id -> number of payment requests (and replaced quotes) still monitored at ``now``."""
    when = now or datetime.now(UTC)
    counts: dict[int, int] = {}
    for model in (PaymentRequest, SupersededQuote):  # a replaced quote's chain stays watched
        rows = session.execute(
            sa.select(model.chain_id, sa.func.count())
            .where(model.monitor_until >= when)
            .group_by(model.chain_id)
        )
        for chain_id, count in rows:
            counts[chain_id] = counts.get(chain_id, 0) + count
    return dict(sorted(counts.items()))
