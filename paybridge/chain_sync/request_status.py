"""Live payment-request status from receipts: detected / confirmed, amounts, partial/over/late.

The watcher records facts; this applies the shared amount rule (``paybridge.payment_status``)
and the lifecycle (``paybridge.requests.lifecycle``) to show payers and operators where a request
stands. Every change is audited. Accounting decisions stay with the reconciliation engine.
Recomputed from all of a request's receipts each time, so it is idempotent and reorg-proof.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.domain.audit_events import AuditEvent
from paybridge.payment_status import AmountStatus, classify_amount
from paybridge.requests.lifecycle import Status, snapshot, transition
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainReceipt

ACTOR = "chain-watcher"
SETTLED_STATES = ("confirmed", "finalized")
FROZEN = frozenset({Status.COMPLETED, Status.INVALID})
CHUNK = 500


def _path(current: Status, target: Status) -> list[Status]:
    """Lifecycle steps from ``current`` to ``target`` (new->confirmed passes through detected)."""
    if current == target:
        return [current]
    if target == Status.CONFIRMED and current in (Status.NEW, Status.EXPIRED):
        return [Status.DETECTED, Status.CONFIRMED]
    if target == Status.NEW and current == Status.CONFIRMED:
        return [Status.DETECTED, Status.NEW]
    return [target]


def _matches_asset(receipt: ChainReceipt, request: PaymentRequest) -> bool:
    if request.asset_address is None:
        return receipt.asset_address is None
    return (receipt.asset_address or "").lower() == request.asset_address.lower()


def refresh_requests(
    session: Session, request_ids: Collection[str], *, now: datetime | None = None
) -> list[AuditEvent]:
    """Recompute the live status of the given requests inside the caller's transaction."""
    now = now or datetime.now(UTC)
    events: list[AuditEvent] = []
    if not request_ids:
        return events
    ids = sorted(request_ids)
    requests: list[PaymentRequest] = []
    incoming: dict[str, list[ChainReceipt]] = defaultdict(list)
    for i in range(0, len(ids), CHUNK):  # two queries per chunk, not one per request
        chunk = ids[i : i + CHUNK]
        requests += session.scalars(
            sa.select(PaymentRequest).where(PaymentRequest.id.in_(chunk))
        ).all()
        for receipt in session.scalars(
            sa.select(ChainReceipt).where(
                ChainReceipt.payment_request_id.in_(chunk), ChainReceipt.direction == "in"
            )
        ):
            incoming[receipt.payment_request_id or ""].append(receipt)
    requests.sort(key=lambda r: r.id)
    for request in requests:
        receipts = [r for r in incoming[request.id] if r.chain_id == request.chain_id]
        paying = [r for r in receipts if _matches_asset(r, request)]
        received = sum(r.amount for r in paying)
        confirmed = sum(r.amount for r in paying if r.state in SETTLED_STATES)
        late = any(r.block_timestamp > request.quote_expires_at for r in paying)
        overall = classify_amount(request.amount_due, received)
        settled = classify_amount(request.amount_due, confirmed)

        current = Status(request.status)
        if current in FROZEN:
            target = current
        elif received == 0:
            target = current if current in (Status.NEW, Status.EXPIRED) else Status.NEW
        elif settled in (AmountStatus.PAID, AmountStatus.OVER):
            target = Status.CONFIRMED
        else:
            target = Status.DETECTED
        flags = {
            "paid_partial": overall == AmountStatus.PARTIAL,
            "paid_over": overall == AmountStatus.OVER,
            "paid_late": late,
        }
        before = snapshot(request)
        request.amount_received = received
        request.amount_confirmed = confirmed
        steps = _path(current, target)
        new_events = []
        for step in steps:
            reason = (
                f"receipts: {len(paying)} paying transfer(s), received {received}, "
                f"confirmed {confirmed} of {request.amount_due} base units ({overall})"
            )
            new_events.append(
                transition(request, step, actor=ACTOR, reason=reason, flags=flags, at=now)
            )
        if snapshot(request) == before:
            continue
        new_events[0] = dataclasses.replace(new_events[0], before=before)
        if len(steps) == 1 and steps[0] == current:
            new_events = [dataclasses.replace(new_events[0], action="payment_update")]
        events.extend(new_events)
    audit.append(session, events, at=now)
    return events
