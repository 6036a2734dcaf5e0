"""`paybridge settle`, `paybridge erp ...` and `paybridge sim netsuite` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from paybridge_connectors.erp.netsuite.config import NetSuiteConnectionConfig
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from paybridge import settlement_outbox
from paybridge.cli.main import app
from paybridge.store.db import transaction
from simulators.netsuite import NetSuiteSimulator

REPO = Path(__file__).resolve().parents[2]


def test_settle_dry_run_then_post(
    sim: NetSuiteSimulator, engine: Engine, cli_env: NetSuiteConnectionConfig, make_settlement
) -> None:
    invoices = sim.seed_invoices(3)
    with transaction(engine) as session:
        for i, invoice in enumerate(invoices):
            settlement = make_settlement(sim, invoice, f"pb-cli-{i}")
            settlement_outbox.enqueue(session, settlement, cli_env.name)
        other = make_settlement(sim, sim.seed_invoices(1)[0], "pb-other-connection")
        settlement_outbox.enqueue(session, other, "another-netsuite")
    runner = CliRunner()
    dry = runner.invoke(app, ["settle", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["due_ids"] == ["pb-cli-0", "pb-cli-1", "pb-cli-2"]
    assert sim.account.payments_by_external_id() == {}
    real = runner.invoke(app, ["settle", "--json"])
    assert real.exit_code == 0, real.output
    result = json.loads(real.output)
    assert result["posted"] == 3 and result["outbox"] == {"posted": 3, "pending": 1}
    assert set(sim.account.payments_by_external_id()) == {"pb-cli-0", "pb-cli-1", "pb-cli-2"}
    again = runner.invoke(app, ["settle"])
    assert again.exit_code == 0 and "posted" in again.output


def test_erp_sync_and_test_connection(
    sim: NetSuiteSimulator, cli_env: NetSuiteConnectionConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.seed_invoices(4)
    monkeypatch.setenv("NETSUITE_PAYMENT_CHAIN", "anvil")
    monkeypatch.setenv("NETSUITE_PAYMENT_ASSET", "USDC")  # no default any more: say it
    runner = CliRunner()
    synced = runner.invoke(app, ["erp", "sync", "--json"])
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.output)["invoices"] == 4
    assert json.loads(synced.output)["new_invoices"] == 4
    # the synced invoices flow on into payment requests, once
    created = runner.invoke(app, ["requests", "create", "--json"])
    assert created.exit_code == 0, created.output
    requests = json.loads(created.output)["requests"]
    assert len(requests) == 4 and {r["erp_system"] for r in requests} == {"netsuite"}
    assert {r["asset"] for r in requests} == {"USDC"} and {r["chain_id"] for r in requests} == {
        31337
    }
    resynced = runner.invoke(app, ["erp", "sync", "--full", "--json"])
    assert json.loads(resynced.output)["new_invoices"] == 0
    # bad data from the ERP is quarantined and visible to finance ops, the batch goes on
    customer = sim.account.add_customer("Bad Data Ltd")
    bad = sim.account.add_invoice(customer, Decimal("-5.00"))
    sim.seed_invoices(1)
    synced = runner.invoke(app, ["erp", "sync", "--json"])
    assert json.loads(synced.output)["quarantined"] == 1
    assert json.loads(synced.output)["new_invoices"] == 1
    listed = runner.invoke(app, ["erp", "quarantine", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["invoice_id"] == str(bad) and row["field"] == "amountremaining"
    assert str(bad) in row["reason"]
    ok = runner.invoke(app, ["erp", "test-connection", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True
    monkeypatch.setenv("NETSUITE_TOKEN_SECRET", "wrong")
    bad = runner.invoke(app, ["erp", "test-connection"])
    assert bad.exit_code == 1 and "bad_credentials" in bad.output
    monkeypatch.delenv("NETSUITE_ACCOUNT")
    usage = runner.invoke(app, ["erp", "test-connection"])
    assert usage.exit_code == 2


def test_sim_netsuite_runs_standalone(ns_config) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paybridge.cli.main",
            "sim",
            "netsuite",
            "--port",
            "0",
            "--seed-invoices",
            "7",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        env: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                key, _, value = line[len("export ") :].strip().partition("=")
                env[key] = value.strip("'")
            if "NETSUITE_ACCOUNTS" in env:
                break
        cfg = NetSuiteConnectionConfig.from_env(env)
        with NetSuiteConnector(cfg) as conn:
            assert conn.test_connection().ok
            assert sum(len(p.invoices) for p in conn.fetch_open_invoices()) == 7
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=15) is not None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
