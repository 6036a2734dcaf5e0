"""Sample audit events for the audit-log tests (amounts past 2**64 on purpose)."""

from __future__ import annotations

from paybridge.domain.audit_events import AuditEvent


def sample_events(count: int, start: int = 0) -> list[AuditEvent]:
    return [
        AuditEvent(
            actor="alice",
            entity_type="payment_request",
            entity_id=f"pr_{i}",
            action="create",
            after={"status": "new", "amount_due": str(10**30 + i)},
            reason="test",
        )
        for i in range(start, start + count)
    ]
