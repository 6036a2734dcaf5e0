"""Exception workflow on the store: maker-checker, audit trail, approved apply settles once."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv
from recon_store_helpers import USDC, pay_scenario, paybridge_config, payer
from sqlalchemy.orm import Session

from paybridge.audit import verify
from paybridge.domain.settlements import Settlement
from paybridge.recon_runs.resolutions import decide, list_exceptions, propose
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.models import AuditEntry
from paybridge.store.models.outbox import SettlementOutboxRow
from reconciliation.workflow import MakerCheckerError, WorkflowError

pytestmark = pytest.mark.anvil


def _by_reason(env: ChainEnv, reason: str) -> dict[str, object]:
    [row] = [r for r in list_exceptions(env.engine) if r["reason"] == reason]
    return row


def _settlement(env: ChainEnv, settlement_id: str) -> Settlement:
    with Session(env.engine) as session:
        row = session.get(SettlementOutboxRow, settlement_id)
        assert row is not None
        return Settlement.from_json(json.loads(row.payload))


def test_apply_needs_a_second_person_and_settles_once(env: ChainEnv) -> None:
    paid = pay_scenario(env)
    exact = env.request(paid.exact)
    env.pay_token(exact.deposit_address, 100 * USDC, sender=payer(env))  # paid twice
    env.mine(64)
    env.watcher().poll()
    cfg = paybridge_config(env)
    reconcile_store(env.engine, cfg)
    duplicate = _by_reason(env, "DUPLICATE_PAYMENT")
    assert (duplicate["amount"], duplicate["status"]) == (str(100 * USDC), "open")
    target = env.make_request("USDC", 100 * USDC)  # the invoice the customer meant to pay

    proposed = propose(
        env.engine, str(duplicate["exception_id"]), "apply", "alice", request_id=target.id
    )
    assert proposed.exception_status == "proposed"
    resolution_id = proposed.resolution["resolution_id"]
    with pytest.raises(MakerCheckerError):
        decide(env.engine, resolution_id, "alice", approve=True)
    assert env.request(target.id).status == "new"

    approved = decide(env.engine, str(duplicate["exception_id"]), "bob", approve=True)
    assert approved.exception_status == "resolved"
    assert approved.settlement_id == f"pb-{resolution_id}"
    settlement = _settlement(env, approved.settlement_id)
    assert settlement.payment_amount == Decimal("100.00")
    assert [(a.invoice_id, a.amount) for a in settlement.applications] == [
        (target.invoice_id, Decimal("100.00"))
    ]
    done = env.request(target.id)
    assert (done.status, done.marked) == ("completed", True)

    again = decide(env.engine, resolution_id, "bob", approve=True)  # retry: no second effect
    assert again.settlement_id == approved.settlement_id
    reconcile_store(env.engine, cfg)  # the engine now sees the target paid: not settled twice
    with Session(env.engine) as session:
        queued = session.scalars(sa.select(SettlementOutboxRow.settlement_id)).all()
        trail = session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.entity_type == "exception_resolution")
            .order_by(AuditEntry.seq)
        ).all()
        assert verify(session).ok
    assert sorted(queued) == sorted([f"pb-{paid.exact}", f"pb-{paid.over}", f"pb-{resolution_id}"])
    assert [(e.action, e.actor) for e in trail] == [("propose", "alice"), ("approved", "bob")]


def test_underpayment_write_off_rejected_then_approved(env: ChainEnv) -> None:
    paid = pay_scenario(env)
    reconcile_store(env.engine, paybridge_config(env))
    under = _by_reason(env, "UNDERPAID")
    assert under["remaining_due"] == str(60 * USDC)
    exception_id = str(under["exception_id"])

    first = propose(env.engine, exception_id, "write-off", "alice", reason="SMALL_BALANCE")
    with pytest.raises(MakerCheckerError):
        decide(env.engine, exception_id, "alice", approve=False)
    rejected = decide(env.engine, exception_id, "bob", approve=False)
    assert (rejected.resolution["state"], rejected.exception_status) == ("rejected", "open")
    with pytest.raises(WorkflowError, match="write-off needs a reason"):
        propose(env.engine, exception_id, "write-off", "carol")

    second = propose(env.engine, exception_id, "write-off", "carol", reason="CUSTOMER_AGREED")
    assert second.resolution["resolution_id"] != first.resolution["resolution_id"]
    approved = decide(env.engine, second.resolution["resolution_id"], "alice", approve=True)
    assert approved.exception_status == "resolved"
    settlement = _settlement(env, str(approved.settlement_id))
    assert settlement.payment_amount == Decimal("40.00")
    lines = {(x.account_role, x.debit, x.credit) for x in settlement.journal_lines}
    assert ("write_off", Decimal("60.00"), Decimal(0)) in lines
    assert ("ar", Decimal(0), Decimal("60.00")) in lines
    assert env.request(paid.partial).status == "completed"
