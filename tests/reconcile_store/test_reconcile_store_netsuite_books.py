"""The NetSuite books end to end: anvil -> watcher -> reconcile -> outbox -> simulator (HTTP).

An invoice paid outside PayBridge stops asking for money and a late crypto payment becomes an
exception, never a second settlement; an invoice in another currency than its subsidiary's
posts with the configured exchange rate (or waits, named, when none is configured); a posting
into a closed period waits for a person instead of retrying.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from recon_store_helpers import USDC, bill_from_erp, netsuite_config, paybridge_config, payer
from sqlalchemy.orm import Session

from paybridge import settlement_outbox
from paybridge.erp_sync import sync_open_invoices
from paybridge.recon_runs.run import reconcile_store
from paybridge.recon_runs.tieouts_store import tie_out_erp
from paybridge.store.models import ReconException
from paybridge.store.models.outbox import SettlementOutboxRow
from simulators.netsuite import NetSuiteSimulator

pytestmark = [pytest.mark.anvil, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def settle_and_post(env: ChainEnv, sim: NetSuiteSimulator, **cfg_changes: object):
    env.mine(64)
    env.watcher().poll()
    cfg = paybridge_config(env).model_copy(update=cfg_changes)
    summary = reconcile_store(env.engine, cfg)
    with NetSuiteConnector(netsuite_config(sim)) as connector:
        return summary, settlement_outbox.post_due(env.engine, connector)


def outbox(env: ChainEnv, settlement_id: str) -> SettlementOutboxRow:
    with Session(env.engine) as session:
        row = session.get(SettlementOutboxRow, settlement_id)
        assert row is not None
        return row


def test_invoice_paid_outside_withdraws_its_request_and_a_late_payment_is_an_exception(
    env: ChainEnv, sim: NetSuiteSimulator
) -> None:
    customer = sim.account.add_customer("ACME")
    invoice = sim.account.add_invoice(customer, Decimal("100.00"))
    request = env.make_request("USDC", 100 * USDC)
    bill_from_erp(env, request.id, sim, invoice)
    sim.account.pay_invoice_outside(invoice)  # a cheque arrives first
    with NetSuiteConnector(netsuite_config(sim)) as connector:
        summary = sync_open_invoices(env.engine, connector, "netsuite")
    [closed] = summary.closed_invoices
    assert (closed["invoice_id"], closed["status"], closed["action"]) == (
        str(invoice),
        "paid",
        "withdrawn",
    )
    assert env.request(request.id).status == "invalid"

    env.pay_token(request.deposit_address, 100 * USDC, sender=payer(env))  # paid anyway
    run, posted = settle_and_post(env, sim)
    assert posted.posted == [] and run.settlements_enqueued == []
    with Session(env.engine) as session:
        raised = session.scalars(
            sa.select(ReconException).where(
                sa.func.lower(ReconException.to_address) == request.deposit_address.lower()
            )
        ).all()
    assert [(e.amount, e.status) for e in raised] == [(100 * USDC, "open")]
    # NetSuite holds the cheque only: no PayBridge payment for the invoice
    assert [k for k in sim.account.payments_by_external_id() if k.startswith("pb-")] == []


def test_foreign_currency_invoice_posts_with_the_configured_rate_or_waits_named(
    env: ChainEnv, sim: NetSuiteSimulator
) -> None:
    customer = sim.account.add_customer("Euro AG", currency_id=2)
    invoice = sim.account.add_invoice(
        customer, Decimal("100.00"), currency_id=2, exchange_rate=Decimal("1.10")
    )
    request = env.make_request("USDC", 100 * USDC)
    bill_from_erp(env, request.id, sim, invoice)
    with Session(env.engine) as session, session.begin():
        env_request = session.get(type(request), request.id)
        assert env_request is not None
        env_request.currency = "EUR"
    env.pay_token(request.deposit_address, 100 * USDC, sender=payer(env))
    _run, posted = settle_and_post(env, sim)
    waiting = outbox(env, f"pb-{request.id}")
    assert waiting.status == "needs_attention" and "EUR/USD" in str(waiting.last_error)
    assert posted.posted == []

    other = env.make_request("USDC", 100 * USDC)
    invoice2 = sim.account.add_invoice(customer, Decimal("100.00"), currency_id=2)
    bill_from_erp(env, other.id, sim, invoice2)
    with Session(env.engine) as session, session.begin():
        row = session.get(type(other), other.id)
        assert row is not None
        row.currency = "EUR"
    env.pay_token(other.deposit_address, 100 * USDC, sender=payer(env))
    _run, posted = settle_and_post(env, sim, fx_rates={"EUR/USD": Decimal("1.08")})
    assert posted.posted == [f"pb-{other.id}"]
    lines = [x for x in sim.account.gl_lines(1) if x.external_id == f"pb-{other.id}"]
    assert {x.exchange_rate for x in lines} == {Decimal("1.08")}
    assert sim.account.get_record("invoice", str(invoice2))["status"]["refName"] == "Paid In Full"

    # the first one goes once the rate is configured and a person requeues it
    cfg = paybridge_config(env).model_copy(update={"fx_rates": {"EUR/USD": Decimal("1.09")}})
    settlement_outbox.requeue(
        env.engine, f"pb-{request.id}", reason="EUR/USD configured", fx_rate=cfg.fx_rate
    )
    with NetSuiteConnector(netsuite_config(sim)) as connector:
        assert settlement_outbox.post_due(env.engine, connector).posted == [f"pb-{request.id}"]
    assert sim.account.get_record("invoice", str(invoice))["status"]["refName"] == "Paid In Full"


def test_closed_period_waits_for_a_person_and_is_not_retried(
    env: ChainEnv, sim: NetSuiteSimulator
) -> None:
    customer = sim.account.add_customer("ACME")
    invoice = sim.account.add_invoice(customer, Decimal("100.00"), tran_date=date(2026, 1, 5))
    request = env.make_request("USDC", 100 * USDC)
    bill_from_erp(env, request.id, sim, invoice)
    today = date.today()
    [period] = sim.account.add_monthly_periods(today.replace(day=1), 1)
    sim.account.close_period(period)
    env.pay_token(request.deposit_address, 100 * USDC, sender=payer(env))
    _run, posted = settle_and_post(env, sim)
    row = outbox(env, f"pb-{request.id}")
    assert posted.posted == [] and row.status == "needs_attention"
    assert today.strftime("%b %Y") in str(row.last_error) and "requeue" in str(row.last_error)
    attempts = row.attempts
    with NetSuiteConnector(netsuite_config(sim)) as connector:
        again = settlement_outbox.post_due(env.engine, connector)
        assert again.posted == [] and outbox(env, f"pb-{request.id}").attempts == attempts
        assert list(tie_out_erp(env.engine, connector)["status"]) == ["NOT_POSTED"]
