"""The CLI as a user runs it (real processes): reconcile, export + re-performance from files,
the exceptions queue with maker-checker, and the chain tie-out with an injected difference."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import openpyxl
import pytest
from chainenv import ChainEnv, cli_config, run_cli
from recon_store_helpers import pay_scenario

pytestmark = pytest.mark.anvil
MATCH_KEY = ["request_id", "chain_id", "tx_hash", "event_key", "amount_applied", "rule", "decision"]


def _matches(path: Path) -> list[tuple[str, ...]]:
    with path.open(newline="") as handle:
        return sorted(tuple(row[k] for k in MATCH_KEY) for row in csv.DictReader(handle))


def test_reconcile_then_reperform_from_exported_files(
    env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    paid = pay_scenario(env)
    config = cli_config(env, tmp_path, sqlite_url)

    tied = run_cli(config, "tieout", "chain", "--chain", "anvil", "--json")
    assert tied.returncode == 0, tied.stdout + tied.stderr
    run = run_cli(config, "reconcile", "--json", "--as", "ops", "--report", str(tmp_path / "pack"))
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert sorted(summary["completed"]) == sorted([paid.exact, paid.over])
    assert (tmp_path / "pack" / "report.xlsx").exists()
    workbook = openpyxl.load_workbook(tmp_path / "pack" / "report.xlsx", read_only=True)
    tie_rows = list(workbook["tie_outs"].iter_rows(values_only=True))
    assert len(tie_rows) - 1 == len(json.loads(tied.stdout)) > 0
    assert {row[5] for row in tie_rows[1:]} == {"ok"}

    exported = run_cli(config, "reconcile", "--export", str(tmp_path / "export"), "--json")
    assert exported.returncode == 0, exported.stderr
    files = json.loads(exported.stdout)
    out = tmp_path / "reperformed"
    again = run_cli(
        config,
        "reconcile-files",
        "--requests",
        files["requests"],
        "--receipts",
        files["receipts"],
        "--rates",
        files["rates"],
        "--out",
        str(out),
        "--no-reports",
    )
    assert again.returncode == 0, again.stderr
    reperformed = _matches(out / "matches.csv")
    assert reperformed == _matches(tmp_path / "pack" / "matches.csv")
    assert {m[0] for m in reperformed} == {paid.exact, paid.partial, paid.over}
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert manifest["inputs"]["receipts"]["sha256"] == summary["input_sha256"]["receipts"]
    # The pack carries a signed audit checkpoint: the log can later be checked against it.
    assert manifest["audit_checkpoint"]["entries"] > 0
    pack_manifest = str(tmp_path / "pack" / "manifest.json")
    held = run_cli(config, "audit", "verify", "--checkpoint", pack_manifest)
    assert held.returncode == 0, held.stdout + held.stderr

    rerun = run_cli(config, "reconcile", "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["settlements_enqueued"] == []

    # Someone with database access drops the newest entries and moves the tip to match.
    last = manifest["audit_checkpoint"]["entries"]
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("delete from audit_log where seq >= ?", (last - 1,))
        tip = db.execute("select hash from audit_log where seq = ?", (last - 2,)).fetchone()[0]
        db.execute("update audit_head set seq = ?, hash = ?", (last - 2, tip))
    assert run_cli(config, "audit", "verify").returncode == 0  # the chain alone cannot tell
    cut = run_cli(config, "audit", "verify", "--checkpoint", pack_manifest)
    assert cut.returncode == 1 and "truncation" in cut.stderr, cut.stdout + cut.stderr


def test_exceptions_cli_refuses_self_approval(
    env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    pay_scenario(env)
    config = cli_config(env, tmp_path, sqlite_url)
    assert run_cli(config, "reconcile", "--json").returncode == 0
    listed = run_cli(config, "exceptions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [over] = [r for r in json.loads(listed.stdout) if r["reason"] == "OVERPAYMENT"]

    bad = run_cli(config, "exceptions", "propose", over["exception_id"], "--action", "gift")
    assert bad.returncode == 2
    made = run_cli(
        config,
        "exceptions",
        "propose",
        over["exception_id"],
        "--action",
        "refund",
        "--as",
        "alice",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    resolution = json.loads(made.stdout)
    assert resolution["refund_address"] == over["from_address"]
    self_check = run_cli(
        config, "exceptions", "approve", resolution["resolution_id"], "--as", "alice"
    )
    assert self_check.returncode == 1
    assert "cannot also approve" in self_check.stderr
    approved = run_cli(
        config, "exceptions", "approve", over["exception_id"], "--as", "bob", "--json"
    )
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["exception_status"] == "resolved"
    audit = run_cli(config, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_chain_tie_out_lists_an_injected_difference(
    env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    paid = pay_scenario(env)
    config = cli_config(env, tmp_path, sqlite_url)
    clean = run_cli(config, "tieout", "chain", "--chain", "anvil", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    rows = json.loads(clean.stdout)
    usdc = env.contracts.usdc.address.lower()
    by_key = {r["key"].split("@")[0]: r for r in rows}
    exact_address = env.request(paid.exact).deposit_address.lower()
    assert by_key[f"31337:{exact_address}:{usdc}"]["expected"] == str(100 * 10**6)
    assert {r["status"] for r in rows} == {"ok"}

    # money the watcher never saw (no transfer at all): the tie-out must show it, not hide it
    env.w3.provider.make_request("anvil_setBalance", [exact_address, hex(12345)])
    env.mine(1)
    env.watcher().poll()
    differing = run_cli(config, "tieout", "chain", "--chain", "anvil", "--json")
    assert differing.returncode == 1
    [diff] = [r for r in json.loads(differing.stdout) if r["status"] != "ok"]
    assert diff["key"].startswith(f"31337:{exact_address}:native@")
    assert (diff["expected"], diff["actual"], diff["difference"]) == ("0", "12345", "12345")
    before_payment = min(r.block_number for r in env.receipts()) - 1
    historical = run_cli(
        config, "tieout", "chain", "--chain", "anvil", "--block", str(before_payment), "--json"
    )
    assert historical.returncode == 0, historical.stdout
    old = {r["key"]: r for r in json.loads(historical.stdout)}
    row = old[f"31337:{exact_address}:{usdc}@{before_payment}"]
    assert (row["expected"], row["actual"]) == ("0", "0")
