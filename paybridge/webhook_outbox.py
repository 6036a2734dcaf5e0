"""Webhook events written in the transaction of the change they report (the outbox).

``audit.append`` hands every batch here: a payment request's creation, status change or new
exception flag becomes an event, with one delivery row per endpoint that wants it, in the same
transaction as the change itself, so a crash can lose neither. Nothing is written while no
endpoint is registered. Delivery happens later (``paybridge.webhooks.delivery``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.domain.audit_events import AuditEvent
from paybridge.store.models import (
    ApiOrder,
    ChainReceipt,
    PaymentRequest,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

PAYLOAD_VERSION = 1
EVENT_TYPES = (
    "payment.created",
    "payment.detected",
    "payment.confirmed",
    "payment.completed",
    "payment.partial",
    "payment.overpaid",
    "payment.expired",
    "payment.failed",
    "payment.late",
    "settlement.posted",
)
_BY_STATUS = {
    "detected": "payment.detected",
    "confirmed": "payment.confirmed",
    "completed": "payment.completed",
    "expired": "payment.expired",
    "invalid": "payment.failed",
}
_BY_FLAG = {"paid_partial": "payment.partial", "paid_over": "payment.overpaid"}


def event_types_of(event: AuditEvent) -> list[str]:
    """The webhook events one audit entry of a payment request stands for."""
    if event.entity_type != "payment_request":
        return []
    if event.action == "create":
        return ["payment.created"]
    before, after = event.before or {}, event.after or {}
    found = []
    if event.action.startswith("status:") and after.get("status") in _BY_STATUS:
        found.append(_BY_STATUS[after["status"]])
    for flag, name in _BY_FLAG.items():
        if after.get(flag) and not before.get(flag):
            found.append(name)
    if after.get("paid_late") and not before.get("paid_late"):
        found.append("payment.late")
    return found


def enqueue_audit_events(session: Session, batch: Sequence[AuditEvent], at: datetime) -> None:
    enqueue_timed_audit_events(session, [(event, at) for event in batch])


def enqueue_timed_audit_events(
    session: Session, batch: Sequence[tuple[AuditEvent, datetime]]
) -> None:
    """The events of ``batch`` (each audit event with its time), endpoints and payments read
    once for the whole batch (a batch of API orders reads them once, not once per order)."""
    wanted = [(e.entity_id, t, at) for e, at in batch for t in event_types_of(e)]
    if not wanted:
        return
    endpoints = _endpoints(session)
    if not endpoints:
        return
    ids = sorted({payment_id for payment_id, _type, _at in wanted})
    session.flush()
    requests = {
        r.id: r
        for r in session.scalars(sa.select(PaymentRequest).where(PaymentRequest.id.in_(ids)))
    }
    orders = {
        o.payment_id: o
        for o in session.scalars(sa.select(ApiOrder).where(ApiOrder.payment_id.in_(ids)))
    }
    hashes: dict[str, list[str]] = {}
    for request_id, tx_hash in session.execute(
        sa.select(ChainReceipt.payment_request_id, ChainReceipt.tx_hash)
        .where(ChainReceipt.payment_request_id.in_(ids))
        .order_by(ChainReceipt.tx_hash)
    ):
        hashes.setdefault(request_id, []).append(tx_hash)
    for payment_id, event_type, at in wanted:
        request = requests.get(payment_id)
        if request is None:
            continue
        data = payment_data(request, orders.get(payment_id), hashes.get(payment_id, []))
        _write(session, endpoints, event_type, payment_id, data, at)


def enqueue_settlement_posted(
    session: Session, payload: dict[str, Any], erp_ids: dict[str, Any], at: datetime
) -> None:
    """settlement.posted, written with the outbox row's change to ``posted``."""
    endpoints = _endpoints(session)
    if not endpoints:
        return
    invoices = [invoice_id for invoice_id, _amount in payload.get("applications", [])]
    payment_ids = list(
        session.scalars(
            sa.select(PaymentRequest.id).where(
                PaymentRequest.erp_system == payload.get("erp_system"),
                PaymentRequest.company == payload.get("company"),
                PaymentRequest.invoice_id.in_(invoices),
            )
        )
    )
    data = {
        "settlement_id": payload.get("settlement_id"),
        "payment_ids": sorted(payment_ids),
        "erp_system": payload.get("erp_system"),
        "company": payload.get("company"),
        "invoices": invoices,
        "amount": payload.get("payment_amount"),
        "currency": payload.get("currency"),
        "tx_hashes": payload.get("evidence", {}).get("tx_hashes", []),
        "erp_payment_id": erp_ids.get("erp_payment_id"),
        "erp_journal_id": erp_ids.get("erp_journal_id"),
    }
    first = payment_ids[0] if payment_ids else None
    _write(session, endpoints, "settlement.posted", first, data, at)


def payment_data(
    request: PaymentRequest, order: ApiOrder | None, tx_hashes: list[str]
) -> dict[str, Any]:
    """The stable ``data`` of payment events (payload version 1)."""
    return {
        "payment_id": request.id,
        "status": request.status,
        "flags": [
            f for f in ("paid_partial", "paid_over", "paid_late", "marked") if getattr(request, f)
        ],
        "amounts": {
            "amount": str(request.invoice_amount),
            "currency": request.currency,
            "asset": request.asset_symbol,
            "chain_id": request.chain_id,
            "decimals": request.asset_decimals,
            "due_base_units": str(request.amount_due),
            "received_base_units": str(request.amount_received),
            "confirmed_base_units": str(request.amount_confirmed),
        },
        "tx_hashes": sorted(set(tx_hashes)),
        "metadata": json.loads(order.metadata_json) if order else {},
        "invoice": None
        if order
        else {
            "erp_system": request.erp_system,
            "company": request.company,
            "invoice_id": request.invoice_id,
        },
    }


def write_event(
    session: Session, event_type: str, payment_id: str | None, data: dict[str, Any], at: datetime
) -> str | None:
    """An event for every endpoint that wants it (tests and redelivery tooling use this)."""
    return _write(session, _endpoints(session), event_type, payment_id, data, at)


_NONE_REGISTERED = "webhook_outbox_no_endpoints"


def note_no_endpoints(session: Session) -> None:
    """The caller just read, in this transaction, that no endpoint is registered (API orders
    read it with their INSERT): the next event enqueued skips that query. Once only: a later
    event of the same transaction reads again."""
    session.info[_NONE_REGISTERED] = True


def _endpoints(session: Session) -> list[WebhookEndpoint]:
    if session.info.pop(_NONE_REGISTERED, False):
        return []
    return list(
        session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.disabled_at.is_(None))
            .order_by(WebhookEndpoint.created_at)
        )
    )


def _write(
    session: Session,
    endpoints: list[WebhookEndpoint],
    event_type: str,
    payment_id: str | None,
    data: dict[str, Any],
    at: datetime,
) -> str | None:
    targets = [e for e in endpoints if not e.events or event_type in e.events.split()]
    if not targets:
        return None
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    payload = {
        "version": PAYLOAD_VERSION,
        "event_id": event_id,
        "event_type": event_type,
        "created_at": at.isoformat(),
        "data": data,
    }
    session.add(
        WebhookEvent(
            id=event_id,
            event_type=event_type,
            payment_id=payment_id,
            payload=json.dumps(payload, sort_keys=True, separators=(",", ":")),
            created_at=at,
        )
    )
    session.flush()
    session.add_all(
        WebhookDelivery(
            event_id=event_id,
            endpoint_id=endpoint.id,
            state="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        for endpoint in targets
    )
    session.flush()
    return event_id
