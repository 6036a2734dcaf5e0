"""Settlements for an invoice with no configured ERP connection are refused at queue time:
recorded as needs_attention with the reason (never pending under a connection no worker posts
for), reported by `paybridge reconcile` with exit 1 and shown by `paybridge settlements list`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv, cli_config
from recon_store_helpers import USDC, paybridge_config, payer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from paybridge import settlement_outbox
from paybridge.audit import verify
from paybridge.cli.main import app
from paybridge.domain.settlements import SettlementError
from paybridge.recon_runs.resolutions import decide, list_exceptions, propose
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.models import AuditEntry, Invoice, PaymentRequest
from paybridge.store.models.outbox import SettlementOutboxRow

pytestmark = pytest.mark.anvil


def _source(env: ChainEnv, request: PaymentRequest, source: str) -> None:
    with Session(env.engine) as session, session.begin():
        invoice = session.scalar(sa.select(Invoice).where(Invoice.invoice_id == request.invoice_id))
        assert invoice is not None
        invoice.source = source


def _paid(env: ChainEnv, count: int) -> list[PaymentRequest]:
    requests = [env.make_request("USDC", 100 * USDC) for _ in range(count)]
    for request in requests:
        env.pay_token(request.deposit_address, 100 * USDC, sender=payer(env))
    env.mine(64)
    env.watcher().poll()
    return requests


def test_settlements_without_a_configured_connection_are_refused_with_the_reason(
    env: ChainEnv,
) -> None:
    synced, imported, ghost = _paid(env, 3)
    _source(env, imported, "invoices.csv")  # `paybridge invoices import`: no ERP behind it
    _source(env, ghost, "erp:ghost")  # a connection that never synced into this store

    summary = reconcile_store(env.engine, paybridge_config(env))

    assert sorted(summary.completed) == sorted([synced.id, imported.id, ghost.id])
    assert summary.settlements_enqueued == [f"pb-{synced.id}"]
    refused = {s["settlement_id"]: s for s in summary.settlements_not_postable}
    assert set(refused) == {f"pb-{imported.id}", f"pb-{ghost.id}"}
    assert "invoices.csv" in refused[f"pb-{imported.id}"]["reason"]
    assert refused[f"pb-{ghost.id}"]["connection"] == "ghost"
    assert "'ghost'" in refused[f"pb-{ghost.id}"]["reason"]
    with Session(env.engine) as session:
        rows = {r.settlement_id: r for r in session.scalars(sa.select(SettlementOutboxRow))}
        actions = dict(
            session.execute(
                sa.select(AuditEntry.entity_id, AuditEntry.action).where(
                    AuditEntry.entity_type == "settlement"
                )
            ).all()
        )
        assert verify(session).ok
    assert {sid: (r.status, r.connection) for sid, r in rows.items()} == {
        f"pb-{synced.id}": ("pending", "test"),
        f"pb-{imported.id}": ("needs_attention", ""),
        f"pb-{ghost.id}": ("needs_attention", "ghost"),
    }
    assert "no ERP connection to post to" in str(rows[f"pb-{imported.id}"].last_error)
    assert actions[f"pb-{imported.id}"] == "not_postable"
    assert actions[f"pb-{synced.id}"] == "enqueue"
    # no worker of any connection picks the refused ones up
    due = settlement_outbox.post_due(env.engine, None, dry_run=True)  # type: ignore[arg-type]
    assert due.due == [f"pb-{synced.id}"]
    with pytest.raises(SettlementError, match="no ERP connection"):
        settlement_outbox.requeue(env.engine, f"pb-{imported.id}")
    # a re-run neither queues nor reports them again
    again = reconcile_store(env.engine, paybridge_config(env))
    assert again.settlements_enqueued == [] and again.settlements_not_postable == []


def test_reconcile_cli_exits_1_and_settlements_list_shows_why(
    env: ChainEnv, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced, imported = _paid(env, 2)
    _source(env, imported, "invoices.csv")
    monkeypatch.setenv("PAYBRIDGE_CONFIG", str(cli_config(env, tmp_path, sqlite_url)))
    monkeypatch.delenv("PAYBRIDGE_DATABASE_URL", raising=False)
    runner = CliRunner()

    run = runner.invoke(app, ["reconcile", "--as", "ops"])
    assert run.exit_code == 1, run.output
    assert "1 settlements cannot be posted to an ERP" in run.output
    assert "invoice imported from 'invoices.csv'" in run.output
    assert f"pb-{imported.id}" in run.output and "settlements list --state" in run.output

    listed = runner.invoke(app, ["settlements", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["settlement_id"]: r for r in json.loads(listed.stdout)}
    assert rows[f"pb-{synced.id}"]["state"] == "pending"
    assert rows[f"pb-{imported.id}"]["state"] == "needs_attention"
    assert rows[f"pb-{imported.id}"]["connection"] is None
    assert "invoices.csv" in rows[f"pb-{imported.id}"]["reason"]
    none = runner.invoke(app, ["settlements", "list", "--connection", "none", "--json"])
    assert [r["settlement_id"] for r in json.loads(none.stdout)] == [f"pb-{imported.id}"]
    table = runner.invoke(app, ["settlements", "list", "--state", "needs_attention"])
    assert f"pb-{imported.id}" in table.output and f"pb-{synced.id}" not in table.output
    requeue = runner.invoke(
        app, ["settlements", "requeue", f"pb-{imported.id}", "--reason", "try again"]
    )
    assert requeue.exit_code == 1 and "no ERP connection" in requeue.output

    rerun = runner.invoke(app, ["reconcile"])
    assert rerun.exit_code == 0, rerun.output  # nothing new refused in this run


def test_an_approved_write_off_of_an_imported_invoice_is_recorded_not_postable(
    env: ChainEnv,
) -> None:
    request = env.make_request("USDC", 100 * USDC)
    _source(env, request, "invoices.csv")
    env.pay_token(request.deposit_address, 40 * USDC, sender=payer(env))
    env.mine(64)
    env.watcher().poll()
    reconcile_store(env.engine, paybridge_config(env))
    [under] = [e for e in list_exceptions(env.engine, "open") if e["reason"] == "UNDERPAID"]

    propose(env.engine, str(under["exception_id"]), "write-off", "alice", reason="SMALL")
    approved = decide(env.engine, str(under["exception_id"]), "bob", approve=True)

    assert approved.exception_status == "resolved" and approved.settlement_id
    assert "invoices.csv" in str(approved.settlement_not_postable)
    with Session(env.engine) as session:
        row = session.get(SettlementOutboxRow, approved.settlement_id)
        assert row is not None and (row.status, row.connection) == ("needs_attention", "")
