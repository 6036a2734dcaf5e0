"""Exception workflow on the store: maker-checker, audit trail, approved apply settles once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv
from paybridge_reconciliation.workflow import MakerCheckerError, WorkflowError
from recon_store_helpers import USDC, pay_scenario, paybridge_config, payer
from sqlalchemy.orm import Session

from paybridge.audit import verify
from paybridge.domain.settlements import Settlement
from paybridge.recon_runs.resolutions import decide, list_exceptions, propose
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.models import AuditEntry, PaymentRequest
from paybridge.store.models.chain import ChainReceipt
from paybridge.store.models.outbox import SettlementOutboxRow

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
    # the write-off is a credit applied to the invoice with the approver's reason code, so the
    # invoice ends paid in full (100 applied: 40 cash + 60 credit)
    assert [(w.amount, w.reason_code) for w in settlement.write_offs] == [
        (Decimal("60.00"), "CUSTOMER_AGREED")
    ]
    assert [a.amount for a in settlement.applications] == [Decimal("100.00")]
    lines = {(x.account_role, x.debit, x.credit) for x in settlement.journal_lines}
    assert ("digital_asset", Decimal("40.00"), Decimal(0)) in lines
    # dated by the receipt's block, not by the day of the decision
    assert settlement.received_at is not None and settlement.received_at < datetime.now(UTC)
    assert env.request(paid.partial).status == "completed"


def test_manual_write_off_is_valued_at_the_rate_of_the_receipts_block(env: ChainEnv) -> None:
    """Like automatic settlements: fair value at the receipt's block time (the latest quote
    for the asset before it), the difference to the quoted payment as gain; not the quote."""
    short = env.make_request("USDC", 100 * USDC)
    later = env.make_request("USDC", 100 * USDC)  # quoted after the rate moved
    with Session(env.engine) as session, session.begin():
        first, moved = session.get(PaymentRequest, short.id), session.get(PaymentRequest, later.id)
        assert first is not None and moved is not None
        now = datetime.now(UTC)  # both quotes before the block (whose time has whole seconds)
        first.rate_as_of, moved.rate_as_of = now - timedelta(seconds=10), now - timedelta(seconds=5)
        moved.rate_price = Decimal("1.02")
    env.pay_token(short.deposit_address, 60 * USDC, sender=payer(env))
    env.mine(64)
    env.watcher().poll()
    reconcile_store(env.engine, paybridge_config(env))
    under = _by_reason(env, "UNDERPAID")
    proposal = propose(
        env.engine, str(under["exception_id"]), "write-off", "alice", reason="AGREED"
    )
    approved = decide(env.engine, proposal.resolution["resolution_id"], "bob", approve=True)
    settlement = _settlement(env, str(approved.settlement_id))
    lines = {(x.account_role, x.account_key, x.debit, x.credit) for x in settlement.journal_lines}
    assert settlement.payment_amount == Decimal("60.00")  # what the customer is credited
    assert ("digital_asset", "crypto_asset", Decimal("61.20"), Decimal(0)) in lines
    assert ("settlement_gain_loss", "gain", Decimal(0), Decimal("1.20")) in lines
    assert settlement.evidence.rate == "1.02"
    with Session(env.engine) as session:
        block_time = session.scalar(
            sa.select(ChainReceipt.block_timestamp).where(
                sa.func.lower(ChainReceipt.to_address) == short.deposit_address.lower()
            )
        )
    assert settlement.received_at == block_time
