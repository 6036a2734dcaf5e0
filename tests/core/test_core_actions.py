"""Expiry on the clock and manual marking, both audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.requests.actions import RequestNotFound, expire_overdue, mark_request
from paybridge.requests.lifecycle import IllegalTransition, Status
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction
from paybridge.store.models import AuditEntry, PaymentRequest

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def request_ids(store: Engine, config, wallet, fixed_rates, make_invoice) -> list[str]:
    with transaction(store) as session:
        created = create_payment_requests(
            session,
            [make_invoice(i) for i in range(4)],
            config=config,
            rates_for_chain=lambda _c: fixed_rates,
            wallet=wallet,
            actor="test",
            now=NOW,
        )
        return [c.request.id for c in created]


def test_lapsed_quotes_expire_once(store: Engine, request_ids: list[str]) -> None:
    with transaction(store) as session:
        partial = session.get(PaymentRequest, request_ids[1])
        partial.status, partial.paid_partial = Status.DETECTED.value, True
        paid = session.get(PaymentRequest, request_ids[2])
        paid.status = Status.CONFIRMED.value
    with transaction(store) as session:
        assert expire_overdue(session, actor="clock", now=NOW + timedelta(minutes=14)) == 0
    with transaction(store) as session:
        assert expire_overdue(session, actor="clock", now=NOW + timedelta(minutes=16)) == 3
    with transaction(store) as session:
        assert expire_overdue(session, actor="clock", now=NOW + timedelta(minutes=17)) == 0
        statuses = {r.id: r.status for r in session.scalars(sa.select(PaymentRequest))}
        assert statuses[request_ids[2]] == "confirmed"
        assert {statuses[i] for i in (request_ids[0], request_ids[1], request_ids[3])} == {
            "expired"
        }
        assert session.get(PaymentRequest, request_ids[1]).paid_partial  # flag kept
        assert audit.verify(session).ok


def test_manual_marking_sets_flag_and_needs_reason(store: Engine, request_ids: list[str]) -> None:
    with transaction(store) as session:
        request = mark_request(
            session,
            request_ids[0],
            Status.COMPLETED,
            actor="ops:ann",
            reason="paid by wire, ref 7781",
        )
        assert request.status == "completed" and request.marked
    with transaction(store) as session:
        entry = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert entry.actor == "ops:ann" and entry.reason == "paid by wire, ref 7781"
        with pytest.raises(IllegalTransition):  # final is final, even by hand
            mark_request(session, request_ids[0], Status.INVALID, actor="ops:bob", reason="oops")
        with pytest.raises(ValueError, match="reason"):
            mark_request(session, request_ids[1], Status.INVALID, actor="ops:bob", reason=" ")
        with pytest.raises(ValueError, match="completed or invalid"):
            mark_request(session, request_ids[1], Status.CONFIRMED, actor="ops:bob", reason="x")
        with pytest.raises(RequestNotFound):
            mark_request(session, "pr_nope", Status.INVALID, actor="ops:bob", reason="x")
