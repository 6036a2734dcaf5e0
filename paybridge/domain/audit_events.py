"""What the audit log records, as a plain value: the engine and services emit these, and only
``paybridge.audit`` (the store side) appends them to the hash-chained log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditEvent:
    """A state change to record: who did what to which entity, and why."""

    actor: str
    entity_type: str
    entity_id: str
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    reason: str | None = None
