"""`paybridge watch` and `paybridge receipts list` as a user runs them (real processes)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from chainenv import PAYBRIDGE_CLI, ChainEnv, cli_config, run_cli

pytestmark = pytest.mark.anvil
USDC = 10**6


def test_watch_once_then_list_receipts_as_json(
    chain_env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    config = cli_config(chain_env, tmp_path, sqlite_url)
    request = chain_env.make_request("USDC", 100 * USDC)
    paid = chain_env.pay_token(request.deposit_address, 100 * USDC)

    watched = run_cli(config, "watch", "--chain", "anvil", "--once", "--from-block", "0", "--json")
    assert watched.returncode == 0, watched.stderr
    report = json.loads(watched.stdout)
    assert (report["chain"], report["receipts_added"]) == ("anvil", 1)

    listed = run_cli(config, "receipts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["tx_hash"] == paid["transactionHash"].to_0x_hex()
    assert (row["amount"], row["amount_display"]) == (str(100 * USDC), "100.00 USDC")
    assert (row["payment_request_id"], row["state"]) == (request.id, "detected")

    table = run_cli(config, "receipts", "list")
    assert table.returncode == 0 and request.id in table.stdout


def test_usage_errors_exit_2(chain_env: ChainEnv, tmp_path: Path, sqlite_url: str) -> None:
    config = cli_config(chain_env, tmp_path, sqlite_url)
    assert run_cli(config, "watch", "--chain", "nosuchchain", "--once").returncode == 2
    assert run_cli(config, "receipts", "list", "--state", "maybe").returncode == 2
    assert run_cli(config, "watch", "--from-block", "3", "--once").returncode == 2


def test_killed_watch_process_resumes_without_loss_or_duplicate(
    chain_env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    requests = [chain_env.make_request("USDC", 10 * USDC) for _ in range(6)]
    for i, request in enumerate(requests):
        chain_env.pay_token(request.deposit_address, (i + 1) * USDC)
        chain_env.mine(150)
    config = cli_config(chain_env, tmp_path, sqlite_url, max_range=10)
    process = subprocess.Popen(
        [PAYBRIDGE_CLI, "--config", str(config), "watch", "--chain", "anvil", "--from-block", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while not chain_env.receipts() and time.monotonic() < deadline:
        time.sleep(0.05)  # kill as soon as the first receipt is committed, mid-scan
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    partial = json.loads(run_cli(config, "receipts", "list", "--json").stdout)
    assert 1 <= len(partial) < len(requests)  # the kill really interrupted the scan

    resumed = run_cli(config, "watch", "--chain", "anvil", "--once", "--json")
    assert resumed.returncode == 0, resumed.stderr
    rows = json.loads(run_cli(config, "receipts", "list", "--json").stdout)
    assert sorted(int(r["amount"]) for r in rows) == [(i + 1) * USDC for i in range(6)]
    assert len({(r["tx_hash"], r["event_key"]) for r in rows}) == len(rows) == 6
