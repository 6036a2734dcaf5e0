"""Exception workflow: resolve a queued exception (apply to an invoice, write off with a reason,
keep as customer credit, refund) under maker-checker: whoever proposes cannot approve.

Library only (in memory); every state change is emitted as a `paybridge.audit.AuditEvent`
through the `audit` sink, so the store layer can append it to the hash-chained audit log.
Proposing the same resolution twice returns the same one (idempotent, safe to retry).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

import pandas as pd

from paybridge.domain.audit_events import AuditEvent

#: Columns of the manual-resolutions table (workbook sheet, store export).
RESOLUTION_COLUMNS = [
    "resolution_id",
    "exception_id",
    "action",
    "request_id",
    "amount",
    "reason",
    "proposed_by",
    "approved_by",
    "state",
]


class Action(StrEnum):
    APPLY = "apply"
    WRITE_OFF = "write_off"
    CUSTOMER_CREDIT = "customer_credit"
    REFUND = "refund"


class ResolutionState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class WorkflowError(ValueError):
    """A resolution that is not allowed (message says which rule)."""


class MakerCheckerError(WorkflowError):
    pass


@dataclass(frozen=True)
class Resolution:
    resolution_id: str
    exception_id: str
    action: Action
    amount: int
    proposed_by: str
    proposed_at: datetime
    request_id: str = ""
    reason: str = ""
    refund_address: str = ""
    state: ResolutionState = ResolutionState.PROPOSED
    approved_by: str = ""
    decided_at: datetime | None = None

    def as_row(self) -> dict[str, str]:
        return {
            "resolution_id": self.resolution_id,
            "exception_id": self.exception_id,
            "action": self.action.value,
            "request_id": self.request_id,
            "amount": str(self.amount),
            "reason": self.reason,
            "proposed_by": self.proposed_by,
            "approved_by": self.approved_by,
            "state": self.state.value,
        }


@dataclass
class ResolutionBook:
    """Resolutions for one exceptions queue (the `exceptions.csv` frame of a run)."""

    exceptions: pd.DataFrame
    audit: Callable[[AuditEvent], None] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    resolutions: dict[str, Resolution] = field(default_factory=dict)
    events: list[AuditEvent] = field(default_factory=list)

    def _emit(self, event: AuditEvent) -> None:
        self.events.append(event)
        if self.audit is not None:
            self.audit(event)

    def _exception(self, exception_id: str) -> dict:
        rows = self.exceptions[self.exceptions["exception_id"] == exception_id]
        if rows.empty:
            raise WorkflowError(f"exception {exception_id!r} is not in this queue")
        return rows.iloc[0].to_dict()

    def committed(self, exception_id: str) -> int:
        """Amount already covered by proposed or approved resolutions of an exception."""
        return sum(
            r.amount
            for r in self.resolutions.values()
            if r.exception_id == exception_id and r.state != ResolutionState.REJECTED
        )

    def propose(
        self,
        exception_id: str,
        action: Action,
        amount: int,
        by: str,
        request_id: str = "",
        reason: str = "",
        refund_address: str = "",
    ) -> Resolution:
        action = Action(action)
        if not by:
            raise WorkflowError("a resolution needs the proposer's name")
        exc = self._exception(exception_id)
        key = "|".join(
            [exception_id, action.value, str(amount), request_id, reason, refund_address.lower()]
        )
        resolution_id = "RES-" + hashlib.sha256(key.encode()).hexdigest()[:16]
        if resolution_id in self.resolutions:
            return self.resolutions[resolution_id]  # same proposal again: idempotent
        if amount <= 0:
            raise WorkflowError("amount must be > 0 base units")
        available = int(exc["amount"]) - self.committed(exception_id)
        if amount > available:
            raise WorkflowError(
                f"amount {amount} exceeds the unresolved {available} of {exception_id}"
            )
        if action == Action.APPLY and not request_id:
            raise WorkflowError("apply needs the request_id of the invoice")
        if action == Action.WRITE_OFF and not reason:
            raise WorkflowError("a write-off needs a reason code")
        if action == Action.REFUND and not refund_address:
            raise WorkflowError("a refund needs the address to send it to")
        resolution = Resolution(
            resolution_id=resolution_id,
            exception_id=exception_id,
            action=action,
            amount=int(amount),
            proposed_by=by,
            proposed_at=self.clock(),
            request_id=request_id,
            reason=reason,
            refund_address=refund_address.lower(),
        )
        self.resolutions[resolution_id] = resolution
        self._emit(
            AuditEvent(
                actor=by,
                entity_type="exception_resolution",
                entity_id=resolution_id,
                action="propose",
                after=resolution.as_row(),
                reason=reason or None,
            )
        )
        return resolution

    def _decide(self, resolution_id: str, by: str, state: ResolutionState) -> Resolution:
        current = self.resolutions.get(resolution_id)
        if current is None:
            raise WorkflowError(f"unknown resolution {resolution_id!r}")
        if current.state == state and current.approved_by == by:
            return current  # retry of the same decision
        if current.state != ResolutionState.PROPOSED:
            raise WorkflowError(f"{resolution_id} is already {current.state.value}")
        if not by:
            raise WorkflowError("a decision needs the checker's name")
        if by == current.proposed_by:
            raise MakerCheckerError(
                f"{by} proposed {resolution_id} and cannot also approve or reject it"
            )
        decided = replace(current, state=state, approved_by=by, decided_at=self.clock())
        self.resolutions[resolution_id] = decided
        self._emit(
            AuditEvent(
                actor=by,
                entity_type="exception_resolution",
                entity_id=resolution_id,
                action=state.value,
                before=current.as_row(),
                after=decided.as_row(),
            )
        )
        return decided

    def approve(self, resolution_id: str, by: str) -> Resolution:
        return self._decide(resolution_id, by, ResolutionState.APPROVED)

    def reject(self, resolution_id: str, by: str) -> Resolution:
        return self._decide(resolution_id, by, ResolutionState.REJECTED)

    def frame(self) -> pd.DataFrame:
        """Manual resolutions for the XLSX workbook (who proposed, who approved)."""
        rows = [
            r.as_row() for r in sorted(self.resolutions.values(), key=lambda r: r.resolution_id)
        ]
        return pd.DataFrame(rows, columns=RESOLUTION_COLUMNS)
