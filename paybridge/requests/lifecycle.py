"""Payment-request lifecycle: which status may follow which, enforced and audited.

new -> detected -> confirmed -> completed, or expired / invalid. A payment seen after the
quote expired (inside the late window) moves expired -> detected with ``paid_late``; a reorg
that removes a payment can move detected -> new; a re-quote on the payer's portal moves an
expired request nothing was paid to back to new. Flags ride alongside the status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from paybridge.domain.audit_events import AuditEvent
from paybridge.store.models import PaymentRequest


class Status(StrEnum):
    NEW = "new"
    DETECTED = "detected"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    EXPIRED = "expired"
    INVALID = "invalid"


FLAGS = ("paid_partial", "paid_over", "paid_late", "marked")

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.DETECTED, Status.EXPIRED, Status.INVALID}),
    Status.DETECTED: frozenset({Status.CONFIRMED, Status.NEW, Status.EXPIRED, Status.INVALID}),
    Status.CONFIRMED: frozenset({Status.COMPLETED, Status.DETECTED, Status.INVALID}),
    # expired -> new: the payer asked for a fresh quote on the portal (nothing received yet)
    Status.EXPIRED: frozenset({Status.DETECTED, Status.NEW, Status.INVALID}),
    Status.COMPLETED: frozenset(),
    Status.INVALID: frozenset(),
}


#: Finance ops may settle or void any open request by hand (paid off-chain, cancelled invoice);
#: such changes always carry the ``marked`` flag and the person's reason.
MANUAL_TARGETS = frozenset({Status.COMPLETED, Status.INVALID})
FINAL = frozenset({Status.COMPLETED, Status.INVALID})


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow."""


def snapshot(request: PaymentRequest) -> dict[str, Any]:
    return {
        "status": request.status,
        **{flag: getattr(request, flag) for flag in FLAGS},
        "amount_received": str(request.amount_received),
        "amount_confirmed": str(request.amount_confirmed),
    }


def transition(
    request: PaymentRequest,
    new_status: Status,
    *,
    actor: str,
    reason: str,
    flags: dict[str, bool] | None = None,
    at: datetime | None = None,
    manual: bool = False,
) -> AuditEvent:
    """Apply a status change (and flag changes) to ``request``; returns the audit event to log.

    Staying in the same status is allowed when only flags or amounts change. ``manual`` is a
    person's decision: it may also complete or invalidate any open request, and sets ``marked``.
    """
    current = Status(request.status)
    allowed = ALLOWED[current]
    if manual and current not in FINAL:
        allowed = allowed | MANUAL_TARGETS
        flags = {**(flags or {}), "marked": True}
    if new_status != current and new_status not in allowed:
        names = ", ".join(sorted(allowed)) or "none (final status)"
        raise IllegalTransition(
            f"payment request {request.id}: cannot go from {current} to {new_status}; "
            f"allowed from {current}: {names}"
        )
    unknown = set(flags or {}) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown flags {sorted(unknown)}; known flags: {', '.join(FLAGS)}")
    before = snapshot(request)
    request.status = new_status.value
    for flag, value in (flags or {}).items():
        setattr(request, flag, value)
    request.updated_at = at or datetime.now(UTC)
    return AuditEvent(
        actor=actor,
        entity_type="payment_request",
        entity_id=request.id,
        action=f"status:{current}->{new_status}" if new_status != current else "update",
        before=before,
        after=snapshot(request),
        reason=reason,
    )
