"""Derivation indexes without gaps: taken only for requests that are actually inserted.

A wallet finds deposit addresses by scanning child indexes until it meets a run of unused
ones as long as its gap limit (usually 20). An index that no request carries is an address
nobody is ever asked to pay: enough of them in a row and the wallet stops looking before the
later, paid addresses. So a creator first *locks* the xpub's counter row (an ``UPDATE`` that
PostgreSQL row-locks and for which SQLite takes its write lock), then reads which invoices
still need a request, and only then takes exactly as many indexes as it inserts. A worker that
loses a race for an invoice waits for the winner's commit and sees its request, instead of
burning the index it had already taken. A unique constraint on (xpub, index) backs this up.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.db import insert_ignore
from paybridge.store.models import DerivationCounter


def peek_next_index(session: Session, xpub_fingerprint: str) -> int | None:
    """The counter as last committed, without locking it (None before the first request)."""
    return session.scalar(
        sa.select(DerivationCounter.next_index).where(
            DerivationCounter.xpub_fingerprint == xpub_fingerprint
        )
    )


def lock_next_index(session: Session, xpub_fingerprint: str) -> int:
    """Lock the xpub's counter until the transaction ends; returns the next free index.

    Whatever the caller read before the lock it must read again after it, unless the counter
    is where :func:`peek_next_index` saw it *before* those reads: every creator that inserts
    moves it, so an unmoved counter means nobody committed a request on this xpub since.
    """
    touch = (
        sa.update(DerivationCounter)
        .where(DerivationCounter.xpub_fingerprint == xpub_fingerprint)
        .values(next_index=DerivationCounter.next_index)
        .returning(DerivationCounter.next_index)
    )
    current = session.execute(touch).scalar_one_or_none()
    if current is None:
        session.execute(
            insert_ignore(
                session, DerivationCounter, {"xpub_fingerprint": xpub_fingerprint, "next_index": 0}
            )
        )
        current = session.execute(touch).scalar_one()
    return current


def commit_indexes(session: Session, xpub_fingerprint: str, next_index: int) -> None:
    """Record the new next free index (the counter row is already locked by this transaction)."""
    session.execute(
        sa.update(DerivationCounter)
        .where(DerivationCounter.xpub_fingerprint == xpub_fingerprint)
        .values(next_index=next_index)
    )
