"""The SAP books end to end, S/4HANA and ECC, over real HTTP against the SAP simulator:
open item in SAP -> ``erp sync`` + intake -> payment request -> USDC on anvil -> watcher ->
reconcile -> settlement outbox -> ``post_due`` with the SAP connector -> the invoice's open
item cleared -> ``tieout erp`` with 0 differences, and the simulator's G/L lines of each
PayBridge document equal what ``sap_lines`` says the settlement posts, account by account.

Business errors (closed period, blocked customer, amount above the open item) wait for a
person and are not retried; transport errors are retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chainenv import ChainEnv
from paybridge_connectors.erp.sap import sap_connector
from recon_sap_helpers import (
    COMPANY,
    CUSTOMER,
    bill_sap_invoice,
    expected_lines,
    ledger_lines,
    request_from_intake,
    sap_config,
    sap_env,
    sync_and_take_in,
)
from recon_store_helpers import USDC, paybridge_config, payer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from paybridge import settlement_outbox
from paybridge.cli.main import app
from paybridge.domain.settlements import Settlement
from paybridge.recon_runs.run import reconcile_store
from paybridge.recon_runs.tieouts_store import tie_out_erp
from paybridge.settlement_outbox import OutboxPolicy
from paybridge.store.models.outbox import SettlementOutboxRow
from simulators.sap import FaultConfig, SAPSimulator

pytestmark = [pytest.mark.anvil, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def sap() -> Iterator[SAPSimulator]:
    with SAPSimulator(clearing_delay_s=0.05) as simulator:
        yield simulator


def seed(sim: SAPSimulator, amount: str, reference: str) -> Any:
    return sim.seed_open_item(
        COMPANY, CUSTOMER, Decimal(amount), "USD", reference=reference, assignment=reference
    )


def invoice_id(key: Any) -> str:
    return f"{key.fiscal_year}-{key.accounting_document}-{key.item}"


def outbox(env: ChainEnv, settlement_id: str) -> SettlementOutboxRow:
    with Session(env.engine) as session:
        row = session.get(SettlementOutboxRow, settlement_id)
        assert row is not None
        return row


def settle(env: ChainEnv) -> list[str]:
    """Chain past finality, watcher, reconcile: the settlements queued."""
    env.mine(64)
    env.watcher().poll()
    return reconcile_store(env.engine, paybridge_config(env)).settlements_enqueued


@pytest.mark.parametrize("system", ["s4", "ecc"])
def test_sap_invoices_paid_in_usdc_are_posted_cleared_and_tie_out(
    env: ChainEnv,
    sap: SAPSimulator,
    system: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cfg = sap_config(sap, system)
    keys = {
        "exact": seed(sap, "100.00", "INV-E2E-1"),
        "short": seed(sap, "200.00", "INV-E2E-2"),  # paid 199.50: 0.50 within tolerance
        "over": seed(sap, "100.00", "INV-E2E-3"),  # paid 130.00: 30.00 the customer's credit
    }
    paid = {"exact": Decimal("100.00"), "short": Decimal("199.50"), "over": Decimal("130.00")}
    with sap_connector(cfg) as connector:
        assert sync_and_take_in(env, connector) == 3
    requests = {}
    for name, key in keys.items():
        requests[name] = request_from_intake(env, invoice_id(key))
        assert (requests[name].company, requests[name].customer_id) == (COMPANY, f"00{CUSTOMER}")
        env.pay_token(requests[name].deposit_address, int(paid[name] * USDC), sender=payer(env))
    queued = settle(env)
    sids = {name: f"pb-{r.id}" for name, r in requests.items()}
    assert sorted(queued) == sorted(sids.values())

    with sap_connector(cfg) as connector:
        summary = settlement_outbox.post_due(env.engine, connector)
        assert sorted(summary.posted) == sorted(sids.values()), summary.errors
        if system == "ecc":  # SAP's F.13 clears by assignment (ZUONR); a scheduled job in ECC
            assert sap.item(keys["exact"])["IsCleared"] is False  # type: ignore[index]
            sap.run_automatic_clearing(COMPANY)
        for name, key in keys.items():
            item = sap.item(key)
            assert item is not None and item["IsCleared"] is True, (name, item)
            assert item["ClearingAccountingDocument"], (name, item)
        tie_out = tie_out_erp(env.engine, connector, "sap")
    assert len(tie_out) == 3
    assert set(tie_out["status"]) == {"ok"}, tie_out.to_dict("records")
    assert {Decimal(str(d or 0)) for d in tie_out["difference"]} == {Decimal(0)}
    # and as an ERP admin runs it: `paybridge tieout erp` with the SAP_* settings
    for name, value in sap_env(cfg).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYBRIDGE_DATABASE_URL", str(env.engine.url))
    monkeypatch.delenv("PAYBRIDGE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    cli = CliRunner().invoke(app, ["tieout", "erp", "--json"])
    assert cli.exit_code == 0, cli.output
    rows = json.loads(cli.output)
    assert sorted(r["key"] for r in rows) == sorted(sids.values())
    assert {r["status"] for r in rows} == {"ok"}
    # people read the amounts in the invoice currency, machines the plain decimals
    assert all(r["expected_display"] == f"{r['expected']} USD" for r in rows), rows
    human = CliRunner().invoke(app, ["tieout", "erp"])
    assert human.exit_code == 0 and " USD" in human.output, human.output

    for name, sid in sids.items():
        settlement = Settlement.from_json(json.loads(outbox(env, sid).payload))
        assignment = f"INV-E2E-{list(keys).index(name) + 1}"
        expected = expected_lines(cfg, settlement, {invoice_id(keys[name]): assignment})
        assert ledger_lines(sap, sid) == expected, name
    short = Settlement.from_json(json.loads(outbox(env, sids["short"]).payload))
    assert [(w.amount, w.reason_code) for w in short.write_offs] == [
        (Decimal("0.50"), "PAYMENT_DIFFERENCE")
    ]
    over = Settlement.from_json(json.loads(outbox(env, sids["over"]).payload))
    assert over.unapplied == Decimal("30.00")
    write_off = [x for x in sap.ledger.gl_lines(COMPANY) if x["gl_account"] == "0070030000"]
    # S/4 carries SAP's reason code on the item; BAPI_ACC_DOCUMENT_POST has no field for it
    # (ECC sets it through EXTENSION2 and a BAdI, which PayBridge does not do: a known gap)
    reason = "051" if system == "s4" else ""
    assert [(x["amount"], x["reason_code"] or "") for x in write_off] == [(Decimal("0.50"), reason)]
    balances = sap.ledger.trial_balance(COMPANY, datetime.now(UTC).year)
    assert balances["0011002000"] == 0  # crypto clearing nets to zero
    assert balances["0012100000"] == Decimal("-30.00")  # only the customer's credit is left


def _close_period(sim: SAPSimulator) -> None:
    today = datetime.now(UTC).date()
    sim.ledger.set_period_open(COMPANY, today.year, today.month, open=False)


def _block_customer(sim: SAPSimulator) -> None:
    sim.ledger.set_customer_blocked(CUSTOMER, COMPANY, True)


BUSINESS_ERRORS = {
    # what SAP refuses -> (how the test makes SAP refuse it, what the error must name)
    "closed_period": (_close_period, "period"),
    "blocked_customer": (_block_customer, "block"),
    "amount_above_open_item": (lambda sim: None, "more than its open amount"),
}


@pytest.mark.parametrize("problem", list(BUSINESS_ERRORS))
@pytest.mark.parametrize("system", ["s4", "ecc"])
def test_business_errors_wait_for_a_person_and_are_not_retried(
    env: ChainEnv, sap: SAPSimulator, system: str, problem: str
) -> None:
    cfg = sap_config(sap, system)
    key = seed(sap, "100.00", "INV-BAD-1")
    with sap_connector(cfg) as connector:
        sync_and_take_in(env, connector)
    billed = Decimal("100.00")
    if problem == "amount_above_open_item":  # PayBridge billed (and was paid) more than
        billed = Decimal("150.00")  # SAP's open item holds
        request = bill_sap_invoice(env, invoice_id(key), billed)
    else:
        request = request_from_intake(env, invoice_id(key))
    env.pay_token(request.deposit_address, int(billed * USDC), sender=payer(env))
    sid = f"pb-{request.id}"
    assert settle(env) == [sid]
    make_sap_refuse, named = BUSINESS_ERRORS[problem]
    make_sap_refuse(sap)
    documents = len(sap.ledger.committed_documents(COMPANY))
    policy = OutboxPolicy(backoff_base=timedelta(0))
    with sap_connector(cfg) as connector:
        first = settlement_outbox.post_due(env.engine, connector, policy=policy)
        row = outbox(env, sid)
        assert first.needs_attention == [sid] and first.posted == [] and first.failed == []
        assert row.status == "needs_attention" and row.attempts == 1
        assert named in str(row.last_error).lower(), row.last_error
        assert sid in str(row.last_error)  # the error names the record
        again = settlement_outbox.post_due(env.engine, connector, policy=policy)
    assert again.needs_attention == again.posted == again.failed == []
    assert outbox(env, sid).attempts == 1  # not retried: a person has to act
    assert len(sap.ledger.committed_documents(COMPANY)) == documents  # nothing posted
    assert sap.item(key)["IsCleared"] is False  # type: ignore[index]


@pytest.mark.parametrize("system", ["s4", "ecc"])
def test_transport_errors_are_retried_until_posted(
    env: ChainEnv, sap: SAPSimulator, system: str
) -> None:
    cfg = sap_config(sap, system, max_attempts=2)
    key = seed(sap, "100.00", "INV-NET-1")
    with sap_connector(cfg) as connector:
        sync_and_take_in(env, connector)
    request = request_from_intake(env, invoice_id(key))
    env.pay_token(request.deposit_address, 100 * USDC, sender=payer(env))
    sid = f"pb-{request.id}"
    assert settle(env) == [sid]
    sap.set_faults(FaultConfig(error_5xx_rate=1.0, retry_after_s=None, seed=3))
    with sap_connector(cfg) as connector:
        down = settlement_outbox.post_due(
            env.engine, connector, policy=OutboxPolicy(backoff_base=timedelta(hours=1))
        )
    row = outbox(env, sid)
    assert down.failed == [sid] and down.needs_attention == []
    assert (row.status, row.attempts) == ("failed", 1)
    assert "503" in str(row.last_error) or "500" in str(row.last_error), row.last_error
    sap.set_faults(FaultConfig())
    with Session(env.engine) as session, session.begin():  # the back-off hour has passed
        waiting = session.get(SettlementOutboxRow, sid)
        assert waiting is not None and waiting.next_attempt_at is not None
        waiting.next_attempt_at = waiting.next_attempt_at - timedelta(hours=2)
    with sap_connector(cfg) as connector:
        up = settlement_outbox.post_due(env.engine, connector)
        if system == "ecc":
            sap.run_automatic_clearing(COMPANY)
    assert up.posted == [sid]
    assert outbox(env, sid).attempts == 2
    assert sap.item(key)["IsCleared"] is True  # type: ignore[index]
    assert len([d for d in sap.ledger.committed_documents(COMPANY) if d.header_text]) >= 1
