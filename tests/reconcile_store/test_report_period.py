"""Period-close pack: re-performed byte for byte, and the roll-forward tied to real anvil
balances (and a chain that cannot be reached said so in the pack, not left out)."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from paybridge_connectors.chain.rpc import RpcClient
from recon_store_helpers import USDC, pay_scenario, paybridge_config

from paybridge.recon_runs.period import PeriodError, period_bounds, write_period_pack
from paybridge.recon_runs.tieouts_store import read_balance

pytestmark = pytest.mark.anvil


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_period_pack_ties_to_anvil_and_reperforms_byte_for_byte(env, tmp_path):
    paid = pay_scenario(env)
    cfg = paybridge_config(env)
    today = datetime.now(UTC).date()
    first = write_period_pack(env.engine, cfg, today, today, tmp_path / "a")
    second = write_period_pack(env.engine, cfg, today, today, tmp_path / "b")
    assert first == second
    assert files(tmp_path / "a") == files(tmp_path / "b")
    for name, digest in first["files"].items():  # the manifest re-performs every file
        assert hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest() == digest
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "a", capture_output=True, text=True
    )
    assert checked.returncode == 0 and checked.stdout.count(": OK") == len(first["files"]) - 1
    rolled = rows(tmp_path / "a" / "rollforward.csv")
    line = next(r for r in rolled if r["address_class"] == "deposit" and r["token"] == "USDC")
    assert line["asset"] == env.contracts.usdc.address.lower()
    assert line["opening_base_units"] == "0"
    assert line["received_base_units"] == str(270 * USDC)  # 100 + 40 + 130
    assert line["closing_base_units"] == str(270 * USDC)
    # the on-chain figure is the chain's, read independently here at the same block
    block = int(line["last_block"])
    rpc = RpcClient(env.chain_config().rpc_url)
    per_address = [r for r in rows(tmp_path / "a" / "balances.csv") if r["asset"] == line["asset"]]
    for r in per_address:
        chain_balance = read_balance(rpc, r["address"], r["asset"], block)
        assert int(r["onchain_balance_base_units"]) == chain_balance
    assert sum(int(r["onchain_balance_base_units"]) for r in per_address) == 270 * USDC
    assert line["onchain_balance_base_units"] == str(270 * USDC)
    assert line["status"] == "ok" and line["difference_base_units"] == "0"
    assert len(line["receipts_in_period"].split(";")) == 3
    flows = {r["receipt_id"]: r for r in rows(tmp_path / "a" / "flows.csv")}
    assert set(line["receipts_in_period"].split(";")) <= set(flows)
    settled = {r["request_id"]: r for r in rows(tmp_path / "a" / "settled.csv")}
    assert paid.exact in settled and paid.partial not in settled
    assert settled[paid.exact]["journal_ids"]
    journal_ids = {r["journal_id"] for r in rows(tmp_path / "a" / "journals.csv")}
    assert set(settled[paid.exact]["journal_ids"].split(";")) <= journal_ids
    exceptions = rows(tmp_path / "a" / "open_exceptions.csv")
    assert any(r["request_id"] == paid.partial and r["reason"] == "UNDERPAID" for r in exceptions)
    assert all(r["ageing_bucket"] == "0-7 days" for r in exceptions)
    assert first["rollforward_not_tied"] == 0


def test_unreachable_chain_is_said_in_the_pack(env, tmp_path):
    pay_scenario(env, settle_blocks=0)
    base = paybridge_config(env)
    chain = base.chains[0].model_copy(update={"rpc_url": "http://127.0.0.1:9"})
    cfg = base.model_copy(update={"chains": [chain]})
    today = datetime.now(UTC).date()
    manifest = write_period_pack(env.engine, cfg, today, today, tmp_path / "p")
    rolled = rows(tmp_path / "p" / "rollforward.csv")
    assert rolled and all(r["status"] == "CHAIN_UNREACHABLE" for r in rolled)
    assert all(r["onchain_balance_base_units"] == "" for r in rolled)
    assert "not reachable" in (tmp_path / "p" / "summary.md").read_text()
    assert manifest["rollforward_not_tied"] == len(rolled)
    assert json.loads((tmp_path / "p" / "manifest.json").read_text()) == manifest


def test_period_bounds_refuse_a_reversed_period():
    with pytest.raises(PeriodError, match="before --from"):
        period_bounds(datetime(2026, 2, 1).date(), datetime(2026, 1, 1).date())


def test_tie_outs_run_fill_the_store_pack_and_its_reperformance(env, tmp_path):
    """Issue 14: the tie_outs sheet was empty in both the store and the file runs."""
    from openpyxl import load_workbook
    from paybridge_reconciliation.files import run_files

    from paybridge.recon_runs.report import labels_from_config, write_report
    from paybridge.recon_runs.tieouts_store import tie_out_chain

    pay_scenario(env)
    cfg = paybridge_config(env)
    chain_rows = tie_out_chain(env.engine, env.chain_config())
    assert len(chain_rows) > 0
    pack = tmp_path / "pack"
    write_report(env.engine, pack, labels=labels_from_config(cfg))
    book = load_workbook(pack / "report.xlsx", read_only=True)
    sheet = list(book["tie_outs"].iter_rows(values_only=True))
    assert len(sheet) - 1 == len(chain_rows)
    assert {r[0] for r in sheet[1:]} == {"subledger_vs_chain"}
    page = (pack / "report.html").read_text()
    assert "anvil · USDC" in page and "subledger_vs_chain" in page
    inputs = pack / "inputs"
    again = tmp_path / "again"
    run_files(
        inputs / "requests.csv",
        inputs / "receipts.csv",
        again,
        rates_path=inputs / "rates.csv",
        tie_outs_path=inputs / "tie_outs.csv",
        resolutions_path=inputs / "manual_resolutions.csv",
    )
    rerun = list(
        load_workbook(again / "report.xlsx", read_only=True)["tie_outs"].iter_rows(values_only=True)
    )
    assert rerun == sheet


def test_cli_report_period_writes_the_pack_and_refuses_bad_periods(env, tmp_path, sqlite_url):
    from chainenv import cli_config, run_cli

    pay_scenario(env)
    config = cli_config(env, tmp_path, sqlite_url)
    today = datetime.now(UTC).date().isoformat()
    done = run_cli(config, "report", "period", "--from", today, "--to", today, "--out", "pack")
    assert done.returncode == 0, done.stderr
    assert "anvil: last block before the period end" in done.stdout
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert manifest["period"] == {"from": today, "to": today}
    assert "rollforward.csv" in manifest["files"]
    bad = run_cli(config, "report", "period", "--from", "yesterday", "--to", today, "--out", "x")
    assert bad.returncode == 2 and "--from 'yesterday'" in bad.stderr
    reversed_ = run_cli(
        config, "report", "period", "--from", today, "--to", "2000-01-01", "--out", "x"
    )
    assert reversed_.returncode == 2 and "before --from" in reversed_.stderr
    assert not (tmp_path / "x").exists()


def test_roll_forward_carries_opening_balance_and_outflows(env, tmp_path):
    """Day 1: a deposit is paid, a watched wallet receives 50 and sends 20 out. Day 2 (anvil's
    clock moved a day): the wallet receives 10 and sends 5. The day-2 pack opens at day 1's
    closing and ties to anvil's balances at day 2's last block."""
    from chainenv import fresh_address

    wallet, treasury = env.accounts[3], fresh_address("treasury")
    request = env.make_request("USDC", 100 * USDC)
    env.pay_token(request.deposit_address, 100 * USDC, sender=env.accounts[5])
    env.pay_token(wallet, 50 * USDC, sender=env.accounts[5])
    env.pay_token(treasury, 20 * USDC, sender=wallet)
    env.w3.provider.make_request("evm_increaseTime", [86_400])
    env.mine(1)
    env.pay_token(wallet, 10 * USDC, sender=env.accounts[5])
    env.pay_token(treasury, 5 * USDC, sender=wallet)
    env.mine(64)
    env.watcher(extra_watched=[wallet]).poll()
    day2 = datetime.fromtimestamp(env.w3.eth.get_block("latest")["timestamp"], UTC).date()
    manifest = write_period_pack(env.engine, paybridge_config(env), day2, day2, tmp_path / "p")
    rolled = {(r["address_class"], r["token"]): r for r in rows(tmp_path / "p" / "rollforward.csv")}
    other = rolled[("other watched", "USDC")]
    assert [other[k] for k in ("opening_base_units", "received_base_units")] == [
        str(30 * USDC),
        str(10 * USDC),
    ]
    assert other["sent_out_base_units"] == str(5 * USDC)
    assert other["closing_base_units"] == other["onchain_balance_base_units"] == str(35 * USDC)
    deposit = rolled[("deposit", "USDC")]
    assert deposit["opening_base_units"] == deposit["closing_base_units"] == str(100 * USDC)
    assert deposit["received_base_units"] == "0" and deposit["status"] == "ok"
    assert manifest["rollforward_not_tied"] == 0
    assert rows(tmp_path / "p" / "settled.csv") == []  # paid the day before the period


def test_manual_write_offs_listed_and_resolved_exceptions_not_open(env, tmp_path):
    from paybridge.recon_runs.resolutions import decide, list_exceptions, propose
    from paybridge.recon_runs.run import reconcile_store

    paid = pay_scenario(env)
    cfg = paybridge_config(env)
    reconcile_store(env.engine, cfg)
    queue = list_exceptions(env.engine)
    under = next(e for e in queue if e["reason"] == "UNDERPAID")
    proposed = propose(
        env.engine, str(under["exception_id"]), "write-off", "alice", reason="CUSTOMER_AGREED"
    )
    decide(env.engine, proposed.resolution["resolution_id"], "bob", approve=True)
    today = datetime.now(UTC).date()
    write_period_pack(env.engine, cfg, today, today, tmp_path / "p")
    manual = rows(tmp_path / "p" / "manual_write_offs.csv")
    assert [(m["request_id"], m["reason"], m["proposed_by"], m["approved_by"]) for m in manual] == [
        (paid.partial, "CUSTOMER_AGREED", "alice", "bob")
    ]
    assert manual[0]["amount_base_units"] == str(60 * USDC)
    still_open = rows(tmp_path / "p" / "open_exceptions.csv")
    assert under["exception_id"] not in {r["queue_id"] for r in still_open}
    queued = {str(e["exception_id"]) for e in queue}
    assert {r["queue_id"] for r in still_open} <= queued
    assert any(r["reason"] == "OVERPAYMENT" for r in still_open)
