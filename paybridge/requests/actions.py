"""Status changes that are not driven by a receipt: expiry on the clock, a person's marking."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.requests.lifecycle import MANUAL_TARGETS, Status, transition
from paybridge.store.db import get_for_update
from paybridge.store.models import PaymentRequest


class RequestNotFound(LookupError):
    pass


def mark_request(
    session: Session, request_id: str, status: Status, *, actor: str, reason: str
) -> PaymentRequest:
    """A person completes (paid off-chain) or invalidates (invoice cancelled) a request."""
    if status not in MANUAL_TARGETS:
        raise ValueError(f"a request can be marked {' or '.join(sorted(MANUAL_TARGETS))} only")
    if not reason.strip():
        raise ValueError("marking a request needs a reason for the audit log")
    request = get_for_update(session, PaymentRequest, request_id)
    if request is None:
        raise RequestNotFound(f"no payment request {request_id!r}")
    audit.append(session, [transition(request, status, actor=actor, reason=reason, manual=True)])
    return request


def expire_overdue(session: Session, *, actor: str, now: datetime | None = None) -> int:
    """Quotes that lapsed unpaid (or only partly paid) become ``expired``; returns how many.

    The address stays watched until ``monitor_until``: a late payment reopens the request.
    """
    when = now or datetime.now(UTC)
    lapsed = session.scalars(
        sa.select(PaymentRequest)
        .where(
            PaymentRequest.quote_expires_at < when,
            sa.or_(
                PaymentRequest.status == Status.NEW.value,
                sa.and_(
                    PaymentRequest.status == Status.DETECTED.value,
                    PaymentRequest.paid_partial.is_(True),
                ),
            ),
        )
        .order_by(PaymentRequest.id)
        .with_for_update(skip_locked=True)
    ).all()
    events = [
        transition(request, Status.EXPIRED, actor=actor, reason="quote expired unpaid", at=when)
        for request in lapsed
    ]
    audit.append(session, events, at=when)
    return len(events)
