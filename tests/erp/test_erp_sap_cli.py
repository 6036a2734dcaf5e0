"""`paybridge erp test-connection | sync`, `settle` and `tieout erp` with an SAP connection.

The connection is SAP when SAP_SYSTEM is set (or the --erp-config file has a [sap] table).
Tests needing the SAP simulator skip when ``simulators.sap`` is not importable.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sap_support import ACCOUNTS, settlement
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from paybridge import settlement_outbox
from paybridge.cli.main import app
from paybridge.store.db import transaction


@pytest.fixture
def sap_env(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYBRIDGE_DATABASE_URL", str(engine.url))
    monkeypatch.delenv("PAYBRIDGE_CONFIG", raising=False)
    env = {
        "SAP_SYSTEM": "S4",
        "SAP_BASE_URL": "http://127.0.0.1:9",
        "SAP_CLIENT": "100",
        "SAP_USER": "PAYBRIDGE",
        "SAP_PASSWORD": "sim-password",
        "SAP_COMPANY_CODES": "1010",
        "SAP_ACCOUNTS": json.dumps({"1010": ACCOUNTS}),
        "SAP_CUSTOMERS": "17100001",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_settings_errors_name_the_key(
    sap_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAP_COMPANY_CODES", "1010,2910")
    result = CliRunner().invoke(app, ["erp", "test-connection"])
    assert result.exit_code == 2, result.output
    assert "accounts.2910" in result.output
    monkeypatch.setenv("SAP_COMPANY_CODES", "1010")
    monkeypatch.setenv("SAP_CLIENT", "1")
    result = CliRunner().invoke(app, ["erp", "test-connection"])
    assert result.exit_code == 2 and "3-digit SAP client" in result.output


def test_unreachable_host_is_reported(sap_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["erp", "test-connection", "--json"])
    assert result.exit_code == 1, result.output
    answer = json.loads(result.output)
    assert answer["problem"] == "unreachable" and answer["system"] == "s4"


def test_sap_file_is_recognised(
    sap_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAP_SYSTEM")
    file = tmp_path / "sap.toml"
    accounts = "\n".join(f'{k} = "{v}"' for k, v in ACCOUNTS.items() if isinstance(v, str))
    file.write_text(
        '[sap]\nsystem = "ecc"\nbase_url = "http://127.0.0.1:9"\nclient = "100"\nuser = "U"\n'
        'password = "p"\ncompany_codes = ["1010"]\ncustomers = ["17100001"]\nmax_attempts = 1\n'
        f"[sap.accounts.1010]\n{accounts}\n"
        '[sap.accounts.1010.digital_asset]\nfinancial_instrument = "11003000"\n'
        '[sap.accounts.1010.write_off]\ndefault = "70030000"\n'
    )
    result = CliRunner().invoke(
        app, ["erp", "test-connection", "--json", "--erp-config", str(file)]
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["system"] == "ecc"


def test_sync_settle_and_tie_out_against_the_simulator(
    sap_env: dict[str, str], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sap_sim = pytest.importorskip("simulators.sap", reason="SAP simulator not here")
    with sap_sim.SAPSimulator(clearing_delay_s=0.05) as sim:
        key = sim.seed_open_item(
            "1010",
            "17100001",
            Decimal("1190.00"),
            "EUR",
            reference="INV-1",
            assignment="INV-1",
            posting_date=date(2026, 5, 1),
            document_type="DR",
        )
        monkeypatch.setenv("SAP_BASE_URL", sim.base_url)
        runner = CliRunner()
        checked = runner.invoke(app, ["erp", "test-connection", "--json"])
        assert checked.exit_code == 0 and json.loads(checked.output)["ok"], checked.output
        monkeypatch.setenv("SAP_PASSWORD", "wrong")
        bad = runner.invoke(app, ["erp", "test-connection", "--json"])
        assert json.loads(bad.output)["problem"] == "bad_credentials"
        monkeypatch.setenv("SAP_PASSWORD", sap_sim.DEFAULT_PASSWORD)
        monkeypatch.setenv("SAP_PAYMENT_CHAIN", "anvil")
        monkeypatch.setenv("SAP_PAYMENT_ASSET", "USDC")
        synced = runner.invoke(app, ["erp", "sync", "--json"])
        assert synced.exit_code == 0, synced.output
        assert json.loads(synced.output)["invoices"] == 1
        invoice_id = f"{key.fiscal_year}-{key.accounting_document}-{key.item}"
        paid: Any = settlement(invoice_id, short=Decimal("0"), settlement_id="pb-cli-sap")
        with transaction(engine) as session:
            settlement_outbox.enqueue(session, paid, "sap")
        posted = runner.invoke(app, ["settle", "--json"])
        assert posted.exit_code == 0, posted.output
        assert json.loads(posted.output)["posted"] == 1
        assert not sim.ledger.item_open(key)
        tied = runner.invoke(app, ["tieout", "erp", "--json"])
        assert tied.exit_code == 0, tied.output
