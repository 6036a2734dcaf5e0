"""`paybridge sim sap`: runs standalone, prints working SAP_* settings, stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from typer.testing import CliRunner

from paybridge.cli.main import app

REPO = Path(__file__).resolve().parents[2]


def test_sim_sap_prints_settings_that_reach_the_simulator() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "paybridge.cli.main", "sim", "sap", "--port", "0",
         "--seed-invoices", "3", "--system", "ECC"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        env: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                key, _, value = line[len("export ") :].strip().partition("=")
                env[key] = value.strip("'")
            if "SAP_ACCOUNTS" in env:
                break
        assert env["SAP_SYSTEM"] == "ECC" and env["SAP_CLIENT"] == "100"
        assert json.loads(env["SAP_ACCOUNTS"])["2910"]["clearing"] == "0011002000"
        answer = requests.get(
            f"{env['SAP_BASE_URL']}/sap/opu/odata/sap/API_OPLACCTGDOCITEMCUBE_SRV/"
            "A_OperationalAcctgDocItemCube",
            params={"$format": "json", "$filter": "FinancialAccountType eq 'D'",
                    "$inlinecount": "allpages", "sap-client": env["SAP_CLIENT"]},
            auth=(env["SAP_USER"], env["SAP_PASSWORD"]),
            timeout=30,
        )  # fmt: skip
        assert answer.json()["d"]["__count"] == "3"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_sim_sap_refuses_an_unknown_system() -> None:
    result = CliRunner().invoke(app, ["sim", "sap", "--system", "R3"])
    assert result.exit_code == 2
    assert "S4 or ECC" in result.output
