"""What finance ops see of the settlement outbox: every settlement, its state and why.

Read-only views for ``paybridge settlements list|show`` and ``paybridge settle``, so that no
settlement can wait unseen (not posted, not postable, or queued for another connection).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge.settlement_routing import NO_CONNECTION, known_connections
from paybridge.store.db import transaction
from paybridge.store.models.outbox import SettlementAttempt, SettlementOutboxRow

Outbox = SettlementOutboxRow
OPEN_STATES = ("pending", "posting", "failed")


def waiting_elsewhere(engine: Engine, connection: str) -> dict[str, int]:
    """Settlements still to post under other connections than ``connection``: name -> count."""
    with transaction(engine) as session:
        rows = session.execute(
            sa.select(Outbox.connection, sa.func.count())
            .where(Outbox.status.in_(OPEN_STATES), Outbox.connection != connection)
            .group_by(Outbox.connection)
            .order_by(Outbox.connection)
        ).all()
    return {name: count for name, count in rows}


def _view(row: SettlementOutboxRow, known: set[str]) -> dict[str, Any]:
    payload = json.loads(row.payload)
    if row.connection == NO_CONNECTION:
        configured: bool | None = None
    else:
        configured = row.connection in known
    return {
        "settlement_id": row.settlement_id,
        "state": row.status,
        "connection": row.connection or None,
        "connection_configured": configured,
        "erp_system": row.erp_system,
        "company": row.company,
        "customer_id": row.customer_id,
        "invoices": [invoice for invoice, _amount in payload["applications"]],
        "payment_amount": str(row.payment_amount),
        "currency": row.currency,
        "attempts": row.attempts,
        "reason": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.status == "failed" else None,
        "erp_payment_id": row.erp_payment_id,
        "erp_journal_id": row.erp_journal_id,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "posted_at": row.posted_at.isoformat() if row.posted_at else None,
    }


def _filtered(
    state: str | None, connection: str | None, invoice: str | None = None
) -> sa.Select[tuple[SettlementOutboxRow]]:
    query = sa.select(Outbox)
    if state is not None:
        query = query.where(Outbox.status == state)
    if connection is not None:
        query = query.where(Outbox.connection == connection)
    if invoice is not None:  # the payload lists the invoices; a LIKE narrows, _view confirms
        query = query.where(Outbox.payload.contains(json.dumps(invoice)))
    return query


def count_settlements(
    engine: Engine, *, state: str | None = None, connection: str | None = None
) -> int:
    """How many outbox rows ``list_settlements`` would list without a limit."""
    query = _filtered(state, connection)
    with transaction(engine) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0


def list_settlements(
    engine: Engine,
    *,
    state: str | None = None,
    connection: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    invoice: str | None = None,
) -> list[dict[str, Any]]:
    """Outbox rows, oldest first; ``connection=""`` selects those with no ERP connection;
    ``invoice`` those that settle this ERP invoice id."""
    query = _filtered(state, connection, invoice).order_by(Outbox.created_at, Outbox.settlement_id)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with transaction(engine) as session:
        known = known_connections(session)
        views = [_view(row, known) for row in session.scalars(query)]
    return [v for v in views if invoice is None or invoice in v["invoices"]]


def settlement_detail(engine: Engine, settlement_id: str) -> dict[str, Any] | None:
    """One settlement with its full payload (journal, evidence) and every posting attempt."""
    with transaction(engine) as session:
        row = session.get(Outbox, settlement_id)
        if row is None:
            return None
        view = _view(row, known_connections(session))
        view["settlement"] = json.loads(row.payload)
        view["attempt_log"] = [
            {
                "attempt": a.attempt,
                "worker": a.worker,
                "started_at": a.started_at.isoformat(),
                "finished_at": a.finished_at.isoformat(),
                "outcome": a.outcome,
                "detail": a.detail,
            }
            for a in session.scalars(
                sa.select(SettlementAttempt)
                .where(SettlementAttempt.settlement_id == settlement_id)
                .order_by(SettlementAttempt.id)
            )
        ]
        return view


__all__ = ["count_settlements", "list_settlements", "settlement_detail", "waiting_elsewhere"]
