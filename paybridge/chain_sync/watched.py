"""What a chain's watcher watches: the deposit addresses still monitored (read per range, with
a statement prepared once per process) over the extra addresses it was given."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.db import connection_of
from paybridge.store.models import PaymentRequest, SupersededQuote
from paybridge.store.prepared import run


def _select_watched() -> sa.CompoundSelect:
    chain_id, now = sa.bindparam("chain_id"), sa.bindparam("now")
    return (
        sa.select(PaymentRequest.deposit_address, PaymentRequest.id)
        .where(PaymentRequest.chain_id == chain_id, PaymentRequest.monitor_until >= now)
        .union(
            sa.select(SupersededQuote.deposit_address, SupersededQuote.payment_request_id).where(
                SupersededQuote.chain_id == chain_id, SupersededQuote.monitor_until >= now
            )
        )
    )


def load_watched(session: Session | sa.Connection, chain_id: int, now: datetime) -> dict[str, str]:
    """Deposit addresses still monitored on this chain (lowercase) -> payment request id,
    including those of quotes a payer replaced (another asset or network) whose own
    late-payment window is still open: a transfer sent to the old quote is recorded too."""
    rows = run(connection_of(session), _select_watched, chain_id=chain_id, now=now)
    return {address.lower(): request_id for address, request_id in rows}


def watched_map(
    loaded: Mapping[str, str], extra: Collection[str], base: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    """Monitored deposit addresses (-> request id) over the extra addresses (-> None): a request's
    id wins. ``base``, the extra addresses made a dict once, saves rebuilding it per range."""
    if base is None:
        base = dict.fromkeys(extra)
    if not loaded:
        return base  # read only by the caller: no copy of a large set per range
    merged = dict(base)
    merged.update(loaded)
    return merged
