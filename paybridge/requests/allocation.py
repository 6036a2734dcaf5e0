"""Derivation-index allocation that stays unique with any number of concurrent workers.

The counter row is bumped with one ``UPDATE ... RETURNING``: PostgreSQL row-locks it and
SQLite takes its write lock, so two transactions can never receive the same range. A unique
constraint on (xpub, index) in ``payment_requests`` backs this up.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.db import insert_ignore
from paybridge.store.models import DerivationCounter


def allocate_indexes(session: Session, xpub_fingerprint: str, count: int) -> int:
    """Reserve ``count`` consecutive child indexes; returns the first one."""
    if count <= 0:
        raise ValueError("count must be positive")
    bump = (
        sa.update(DerivationCounter)
        .where(DerivationCounter.xpub_fingerprint == xpub_fingerprint)
        .values(next_index=DerivationCounter.next_index + count)
        .returning(DerivationCounter.next_index)
    )
    end = session.execute(bump).scalar_one_or_none()
    if end is None:
        session.execute(
            insert_ignore(
                session, DerivationCounter, {"xpub_fingerprint": xpub_fingerprint, "next_index": 0}
            )
        )
        end = session.execute(bump).scalar_one()
    return end - count
