"""Revoking a credential (a user's token or an API key): stamped once, audited once.

Both kinds are revoked the same way so an auditor reads one shape of entry for either."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.orm import Session

from paybridge import audit


class Revocable(Protocol):
    id: str
    revoked_at: datetime | None


def revoke(session: Session, row: Revocable, *, entity_type: str, actor: str, reason: str) -> None:
    """Stamp ``row`` revoked and audit it; revoking again changes nothing (idempotent)."""
    if row.revoked_at is not None:
        return
    row.revoked_at = datetime.now(UTC)
    audit.append(
        session,
        [
            audit.AuditEvent(
                actor=actor,
                entity_type=entity_type,
                entity_id=row.id,
                action="revoke",
                before={"revoked": "no"},
                after={"revoked": "yes"},
                reason=reason,
            )
        ],
    )
