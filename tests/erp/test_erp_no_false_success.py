"""No false success in the ERP commands: a payment chain that is missing, unknown or a
placeholder is refused before syncing (exit 2 naming the key), a sync that quarantines
invoices exits 1 with the reasons grouped, and `settle` exits 1 when a settlement was not
posted, which `paybridge settlements list` then shows with the reason."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from paybridge import settlement_outbox
from paybridge.cli.main import app
from paybridge.domain.settlements import Application
from paybridge.store.db import transaction
from paybridge.store.models import Invoice
from paybridge.store.models.outbox import ErpOpenInvoice
from simulators.netsuite import NetSuiteSimulator


def _count(engine: Engine, model: type) -> int:
    with transaction(engine) as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_sync_refuses_a_missing_unknown_or_placeholder_payment_chain(
    sim: NetSuiteSimulator,
    engine: Engine,
    cli_env: NetSuiteConnectionConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim.seed_invoices(3)
    runner = CliRunner()

    unset = runner.invoke(app, ["erp", "sync"])
    assert unset.exit_code == 2, unset.output
    assert "NETSUITE_PAYMENT_CHAIN" in unset.output and "no default" in unset.output

    monkeypatch.setenv("NETSUITE_PAYMENT_CHAIN", "base")  # built in, RPC a placeholder
    monkeypatch.setenv("NETSUITE_PAYMENT_ASSET", "USDC")
    placeholder = runner.invoke(app, ["erp", "sync"])
    assert placeholder.exit_code == 2, placeholder.output
    assert "placeholder rpc_url" in placeholder.output and "base-rpc" in placeholder.output

    monkeypatch.setenv("NETSUITE_PAYMENT_CHAIN", "nochain")
    unknown = runner.invoke(app, ["erp", "sync"])
    assert unknown.exit_code == 2 and "NETSUITE_PAYMENT_CHAIN" in unknown.output
    assert "unknown chain 'nochain'" in unknown.output

    monkeypatch.setenv("NETSUITE_PAYMENT_CHAIN", "anvil")
    monkeypatch.setenv("NETSUITE_PAYMENT_ASSET", "XYZ")
    asset = runner.invoke(app, ["erp", "sync"])
    assert asset.exit_code == 2 and "NETSUITE_PAYMENT_ASSET" in asset.output
    assert "unknown asset 'XYZ'" in asset.output
    # refused before fetching: nothing synced, nothing billed on a chain nobody chose
    assert _count(engine, ErpOpenInvoice) == 0 and _count(engine, Invoice) == 0

    # the same keys in a connection file are checked at load by every command, also `settle`
    settings = {
        "account": cli_env.account,
        "consumer_key": cli_env.consumer_key.get_secret_value(),
        "consumer_secret": cli_env.consumer_secret.get_secret_value(),
        "token_id": cli_env.token_id.get_secret_value(),
        "token_secret": cli_env.token_secret.get_secret_value(),
        "base_url": sim.base_url,
        "accounts": cli_env.model_dump(mode="json")["accounts"],
        "payment_chain": "polygn",
        "payment_asset": "USDC",
    }
    file = Path("netsuite.json")
    file.write_text(json.dumps(settings))
    settle = runner.invoke(app, ["settle", "--erp-config", str(file)])
    assert settle.exit_code == 2 and "payment_chain" in settle.output, settle.output

    monkeypatch.setenv("NETSUITE_PAYMENT_ASSET", "USDC")
    ok = runner.invoke(app, ["erp", "sync", "--json"])
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.output)
    assert (result["new_invoices"], result["chain"], result["asset"]) == (3, "anvil", "USDC")


def test_sync_that_quarantines_exits_1_with_reasons_grouped(
    sim: NetSuiteSimulator, cli_env: NetSuiteConnectionConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETSUITE_PAYMENT_CHAIN", "anvil")
    monkeypatch.setenv("NETSUITE_PAYMENT_ASSET", "USDC")
    sim.seed_invoices(2)
    customer = sim.account.add_customer("Bad Data Ltd")
    bad = [sim.account.add_invoice(customer, Decimal("-5.00")) for _ in range(6)]
    runner = CliRunner()

    synced = runner.invoke(app, ["erp", "sync"])
    assert synced.exit_code == 1, synced.output
    out = synced.output
    assert "6 invoices were quarantined" in out and "6 x field amountremaining" in out
    assert "(+3 more)" in out and "paybridge erp quarantine" in out
    assert sum(f"invoice {b}:" in out for b in bad) == 3  # a few examples, not every invoice

    again = runner.invoke(app, ["erp", "sync", "--full", "--json"])
    assert again.exit_code == 1
    result = json.loads(again.stdout)
    assert result["quarantined"] == 6 and result["invoices"] == 2
    assert sorted(q["invoice_id"] for q in result["quarantined_invoices"]) == sorted(
        str(b) for b in bad
    )


def test_settle_exits_1_when_a_settlement_is_not_posted_and_lists_it(
    sim: NetSuiteSimulator,
    engine: Engine,
    cli_env: NetSuiteConnectionConfig,
    make_settlement,  # type: ignore[no-untyped-def]
) -> None:
    good, other = sim.seed_invoices(2)
    wrong = dataclasses.replace(
        make_settlement(sim, good, "pb-wrong-invoice"),
        applications=(Application("999999", Decimal("100.00")),),
    )
    with transaction(engine) as session:
        settlement_outbox.enqueue(session, make_settlement(sim, good, "pb-good"), cli_env.name)
        settlement_outbox.enqueue(session, wrong, cli_env.name)
        settlement_outbox.enqueue(session, make_settlement(sim, other, "pb-elsewhere"), "sap-eu")
    runner = CliRunner()

    settled = runner.invoke(app, ["settle", "--json"])
    assert settled.exit_code == 1, settled.output
    result = json.loads(settled.stdout)
    assert (result["posted"], result["needs_attention"]) == (1, 1)
    assert result["waiting_for_other_connections"] == {"sap-eu": 1}
    human = runner.invoke(app, ["settle"])
    assert human.exit_code == 0  # nothing left to do for this connection now
    assert "sap-eu (1)" in human.output and "settlements list --state" in human.output

    listed = runner.invoke(app, ["settlements", "list", "--state", "needs_attention", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["settlement_id"] == "pb-wrong-invoice" and row["connection"] == cli_env.name
    assert "999999" in row["reason"]
    pending = runner.invoke(app, ["settlements", "list", "--connection", "sap-eu", "--json"])
    assert [r["state"] for r in json.loads(pending.stdout)] == ["pending"]
    assert json.loads(pending.stdout)[0]["connection_configured"] is False
    shown = runner.invoke(app, ["settlements", "show", "pb-wrong-invoice", "--json"])
    detail = json.loads(shown.stdout)
    assert detail["settlement"]["applications"] == [["999999", "100.00"]]
    assert [a["outcome"] for a in detail["attempt_log"]] == ["needs_attention"]
    assert runner.invoke(app, ["settlements", "list", "--state", "lost"]).exit_code == 2
    assert runner.invoke(app, ["settlements", "show", "pb-nope"]).exit_code == 1
