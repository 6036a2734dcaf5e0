"""reconcile-files end to end: CSV in, CSVs + reports + manifest out, byte-identical reruns,
located errors for malformed input, and the CLI wiring."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from paybridge_reconciliation.files import run_files
from paybridge_reconciliation.generate import generate, write_csvs
from paybridge_reconciliation.inputs import InputFileError, read_receipts, read_requests
from typer.testing import CliRunner

from paybridge.cli.main import app

OUTPUTS = [
    "matches.csv",
    "exceptions.csv",
    "requests_status.csv",
    "journals.csv",
    "report.html",
    "report.pdf",
    "report.xlsx",
    "manifest.json",
]


@pytest.fixture(scope="module")
def scenario_files(tmp_path_factory) -> dict[str, Path]:
    return write_csvs(generate(7, 400), tmp_path_factory.mktemp("scenario"))


def run(paths: dict[str, Path], out: Path) -> dict:
    return run_files(paths["requests"], paths["receipts"], out, rates_path=paths["rates"])


def test_outputs_are_byte_identical_across_runs(scenario_files, tmp_path):
    first = run(scenario_files, tmp_path / "a")
    second = run(scenario_files, tmp_path / "b")
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first == second


def test_manifest_hashes_inputs_and_outputs(scenario_files, tmp_path):
    manifest = run(scenario_files, tmp_path)
    digest = hashlib.sha256(scenario_files["receipts"].read_bytes()).hexdigest()
    assert manifest["inputs"]["receipts"]["sha256"] == digest
    for name, sha in manifest["outputs"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == sha
    assert manifest["engine_version"] and len(manifest["config_sha256"]) == 64
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest


def test_file_round_trip_equals_in_memory_run(scenario_files, tmp_path):
    run(scenario_files, tmp_path)
    matches = pd.read_csv(tmp_path / "matches.csv", dtype=str)
    assert {
        "request_id",
        "chain_id",
        "tx_hash",
        "event_key",
        "amount_applied",
        "rule",
        "confidence",
        "decision",
    } <= set(matches.columns)
    rq = read_requests(scenario_files["requests"])
    assert set(matches["request_id"]) <= set(rq["request_id"])


def test_reports_have_charts_links_and_sheets(scenario_files, tmp_path):
    run(scenario_files, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 4
    assert 'href="https://' in html
    with zipfile.ZipFile(tmp_path / "report.xlsx") as book:
        workbook = book.read("xl/workbook.xml").decode()
    for sheet in ("summary", "matches", "exceptions", "journals", "tie_outs", "manual_resolutions"):
        assert f'name="{sheet}"' in workbook


@pytest.mark.parametrize(
    ("line_no", "column", "old", "new"),
    [
        (3, "amount", None, "12.5"),
        (4, "tx_hash", None, "0xnothex"),
        (2, "block_time", None, "yesterday"),
        (5, "status", None, "pending"),
        (3, "event_key", None, "log:x"),
        (6, "event_key", None, "trace:"),
    ],
)
def test_malformed_receipts_name_file_line_and_column(
    scenario_files, tmp_path, line_no, column, old, new
):
    frame = pd.read_csv(scenario_files["receipts"], dtype=str)
    frame.loc[line_no - 2, column] = new
    bad = tmp_path / "receipts.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(InputFileError) as info:
        read_receipts(bad)
    assert (info.value.line, info.value.column) == (line_no, column)
    assert str(bad) in str(info.value)


def test_missing_column_and_bad_currency_in_requests(scenario_files, tmp_path):
    frame = pd.read_csv(scenario_files["requests"], dtype=str)
    frame.drop(columns=["expires_at"]).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(InputFileError, match="expires_at"):
        read_requests(tmp_path / "a.csv")
    frame.loc[6, "invoice_currency"] = "XYZ"
    frame.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputFileError) as info:
        read_requests(tmp_path / "b.csv")
    assert (info.value.line, info.value.column) == (8, "invoice_currency")
    frame = pd.read_csv(scenario_files["requests"], dtype=str)
    frame.loc[3, "invoice_amount"] = "10.123"  # USD has 2 decimals
    frame.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(InputFileError) as info:
        read_requests(tmp_path / "c.csv")
    assert (info.value.line, info.value.column) == (5, "invoice_amount")


def test_cli_reconcile_files(scenario_files, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "reconcile-files",
            "--requests",
            str(scenario_files["requests"]),
            "--receipts",
            str(scenario_files["receipts"]),
            "--rates",
            str(scenario_files["rates"]),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output[result.output.index("{") :])
    assert manifest["counts"]["requests"] == 400
    for name in OUTPUTS:
        assert (out / name).exists()


def test_cli_malformed_input_exits_2(tmp_path):
    bad = tmp_path / "requests.csv"
    bad.write_text("request_id,customer_id\nR1,C1\n")
    result = CliRunner().invoke(
        app,
        [
            "reconcile-files",
            "--requests",
            str(bad),
            "--receipts",
            str(bad),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "line 1" in result.output and "invoice_id" in result.output


def test_cli_invalid_config_exits_2(scenario_files, tmp_path):
    config = tmp_path / "recon.toml"
    config.write_text('rules = ["own_address", "magic"]\n')
    result = CliRunner().invoke(
        app,
        [
            "reconcile-files",
            "--requests",
            str(scenario_files["requests"]),
            "--receipts",
            str(scenario_files["receipts"]),
            "--config",
            str(config),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "rules" in result.output and not (tmp_path / "o" / "manifest.json").exists()


def test_invoice_amounts_read_exactly_in_each_currencys_units(scenario_files, tmp_path):
    """JPY has no decimals, USD two, KWD three; amounts beyond decimal128's 38 digits too."""
    frame = pd.read_csv(scenario_files["requests"], dtype=str)
    cells = {
        0: ("JPY", "1234", 1234),
        1: ("USD", "10.5", 1050),
        2: ("KWD", "7.125", 7125),
        3: ("USD", "0010.00", 1000),
        4: ("USD", "9" * 37 + ".99", int("9" * 39)),
        5: (
            "KWD",
            "123456789012345678901234567890123456789012345.1",
            int("1234567890" * 4 + "123451") * 100,
        ),
    }
    for row, (currency, amount, _) in cells.items():
        frame.loc[row, ["invoice_currency", "invoice_amount"]] = [currency, amount]
    frame.to_csv(tmp_path / "requests.csv", index=False)
    read = read_requests(tmp_path / "requests.csv").set_index("request_id")["invoice_minor"]
    for row, (_, _, minor) in cells.items():
        assert read[frame.loc[row, "request_id"]] == minor
