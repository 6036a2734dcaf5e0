"""Reconcile from the store on a real anvil chain: matches, exceptions, settlements, idempotency."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv
from recon_store_helpers import USDC, make_env, pay_scenario, paybridge_config
from sqlalchemy.orm import Session

from paybridge.audit import verify
from paybridge.domain.settlements import Settlement
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.models import AuditEntry, PaymentRequest
from paybridge.store.models.outbox import SettlementOutboxRow
from paybridge.store.models.reconciliation import ReconException, ReconMatch, ReconRun

pytestmark = pytest.mark.anvil


def _outbox(env: ChainEnv) -> list[SettlementOutboxRow]:
    with Session(env.engine) as session:
        return list(session.scalars(sa.select(SettlementOutboxRow)))


def test_exact_partial_over_are_matched_settled_once_and_rerun_is_idempotent(
    env: ChainEnv,
) -> None:
    paid = pay_scenario(env)
    cfg = paybridge_config(env)

    first = reconcile_store(env.engine, cfg, actor="ops-bot")

    assert sorted(first.completed) == sorted([paid.exact, paid.over])
    assert sorted(first.settlements_enqueued) == sorted([f"pb-{paid.exact}", f"pb-{paid.over}"])
    assert first.matches_auto == 3 and first.receipts == 3
    with Session(env.engine) as session:
        statuses = {r.id: r for r in session.scalars(sa.select(PaymentRequest))}
        reasons = {
            (e.reason, e.request_id, e.amount, e.remaining_due, e.status)
            for e in session.scalars(sa.select(ReconException))
        }
        matches = session.scalars(sa.select(ReconMatch).order_by(ReconMatch.request_id)).all()
        assert verify(session).ok
    assert statuses[paid.exact].status == "completed"
    assert statuses[paid.over].status == "completed" and statuses[paid.over].paid_over
    assert statuses[paid.partial].status != "completed"
    assert ("UNDERPAID", paid.partial, 0, 60 * USDC, "open") in reasons
    assert ("OVERPAYMENT", paid.over, 30 * USDC, None, "open") in reasons
    assert {m.request_id: m.amount_applied for m in matches} == {
        paid.exact: 100 * USDC,
        paid.partial: 40 * USDC,
        paid.over: 100 * USDC,
    }

    rows = {r.settlement_id: r for r in _outbox(env)}
    over = Settlement.from_json(json.loads(rows[f"pb-{paid.over}"].payload))
    assert over.payment_amount == Decimal("130.00")
    assert [(a.invoice_id, a.amount) for a in over.applications] == [
        (statuses[paid.over].invoice_id, Decimal("100.00"))
    ]
    assert over.unapplied == Decimal("30.00")  # customer credit
    exact = Settlement.from_json(json.loads(rows[f"pb-{paid.exact}"].payload))
    assert exact.payment_amount == Decimal("100.00") and exact.unapplied == 0
    assert rows[f"pb-{paid.exact}"].connection == "test"

    second = reconcile_store(env.engine, cfg, actor="ops-bot")
    assert second.completed == [] and second.settlements_enqueued == []
    assert len(_outbox(env)) == 2
    with Session(env.engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ReconRun)) == 2
        completions = session.scalars(
            sa.select(AuditEntry.entity_id).where(AuditEntry.action.like("%->completed"))
        ).all()
        assert sorted(completions) == sorted([paid.exact, paid.over])
        assert verify(session).ok


def test_large_invoices_wait_for_finality(env: ChainEnv) -> None:
    """Above confirmed_max_amount a request settles only from finalized receipts."""
    request = env.make_request("USDC", 100 * USDC)
    env.pay_token(request.deposit_address, 100 * USDC, sender=env.accounts[5])
    env.mine(40)  # safe (latest-32) but not finalized (latest-64)
    env.watcher().poll()
    [receipt] = env.receipts()
    assert receipt.state == "confirmed"
    strict = paybridge_config(env, confirmed_max="50")

    waiting = reconcile_store(env.engine, strict)
    assert waiting.awaiting_finality == [request.id] and waiting.settlements_enqueued == []
    assert env.request(request.id).status != "completed"

    env.mine(30)
    env.watcher().poll()
    settled = reconcile_store(env.engine, strict)
    assert settled.settlements_enqueued == [f"pb-{request.id}"]
    assert env.request(request.id).status == "completed"


def test_not_final_receipts_are_queued_then_cleared(env: ChainEnv) -> None:
    paid = pay_scenario(env, settle_blocks=0)
    cfg = paybridge_config(env)
    first = reconcile_store(env.engine, cfg)
    assert first.completed == [] and first.exceptions_open == 3
    with Session(env.engine) as session:
        assert {e.reason for e in session.scalars(sa.select(ReconException))} == {"NOT_FINAL"}
    env.mine(64)
    env.watcher().poll()
    second = reconcile_store(env.engine, cfg)
    assert sorted(second.completed) == sorted([paid.exact, paid.over])
    with Session(env.engine) as session:
        not_final = session.scalars(
            sa.select(ReconException).where(ReconException.reason == "NOT_FINAL")
        ).all()
    assert {e.status for e in not_final} == {"resolved"}
    assert all("no longer raised" in (e.resolution_note or "") for e in not_final)


def test_concurrent_runs_settle_each_request_once(anvil, any_store) -> None:  # type: ignore[no-untyped-def]
    """Two runs at once (threads, both backends): the run lock serialises them."""
    from concurrent.futures import ThreadPoolExecutor

    env = make_env(anvil, any_store)
    paid = pay_scenario(env)
    cfg = paybridge_config(env)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: reconcile_store(env.engine, cfg), range(2)))
    enqueued = sorted(s for r in results for s in r.settlements_enqueued)
    assert enqueued == sorted([f"pb-{paid.exact}", f"pb-{paid.over}"])
    assert len(_outbox(env)) == 2
    with Session(env.engine) as session:
        assert verify(session).ok


def test_a_crash_mid_run_leaves_nothing_half_written(
    env: ChainEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies right after the settlements were written to the outbox (one batch):
    the run, statuses, outbox and audit roll back."""
    import paybridge.recon_runs.run as run_module

    paid = pay_scenario(env)
    with Session(env.engine) as session:
        audit_before = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    real_enqueue = run_module.enqueue_many
    written: list[list[bool]] = []

    def crash_after_writing(session, items):  # type: ignore[no-untyped-def]
        written.append(real_enqueue(session, items))
        raise RuntimeError("process killed")

    monkeypatch.setattr(run_module, "enqueue_many", crash_after_writing)
    with pytest.raises(RuntimeError, match="process killed"):
        reconcile_store(env.engine, paybridge_config(env))
    with Session(env.engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ReconRun)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(ReconException)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == audit_before
    assert _outbox(env) == []
    assert {env.request(r).status for r in (paid.exact, paid.over)} != {"completed"}

    assert written == [[True, True]]  # both were in the outbox before the crash
    monkeypatch.setattr(run_module, "enqueue_many", real_enqueue)
    retried = reconcile_store(env.engine, paybridge_config(env))
    assert sorted(retried.completed) == sorted([paid.exact, paid.over])
