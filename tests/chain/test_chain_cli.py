"""`paybridge watch` and `paybridge receipts list` as a user runs them (real processes)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chainenv import PAYBRIDGE_CLI, ChainEnv, cli_config, run_cli

from paybridge.store.models import PaymentRequest

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


def _move_request(chain_env: ChainEnv, request_id: str, chain_id: int, **values: object) -> None:
    """Put a test request on another chain (and/or change when its monitoring ends)."""
    table = PaymentRequest.__table__
    with chain_env.engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.id == request_id).values(chain_id=chain_id, **values)
        )


def test_watch_without_chain_scans_only_chains_with_monitored_requests(
    chain_env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    """The report: without --chain every configured chain was scanned, and the built-in
    mainnet placeholders failed the run after ~26 s of retries."""
    config = cli_config(chain_env, tmp_path, sqlite_url)
    request = chain_env.make_request("USDC", 5 * USDC)
    chain_env.pay_token(request.deposit_address, 5 * USDC)
    lapsed = chain_env.make_request("USDC", 5 * USDC)  # on ethereum, no longer monitored
    _move_request(chain_env, lapsed.id, 1, monitor_until=datetime.now(UTC) - timedelta(hours=1))

    started = time.monotonic()
    watched = run_cli(config, "watch", "--once")
    assert watched.returncode == 0, watched.stderr
    assert time.monotonic() - started < 60
    assert watched.stdout.startswith("anvil: head") and "+1 /" in watched.stdout
    for other in ("ethereum", "polygon", "base", "arbitrum", "invalid"):
        assert other not in watched.stdout + watched.stderr
    assert [r.payment_request_id for r in chain_env.receipts()] == [request.id]


def test_watch_reports_unreachable_and_unconfigured_chains_and_scans_the_others(
    chain_env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    config = cli_config(chain_env, tmp_path, sqlite_url)
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config.write_text(
        config.read_text()
        + f'[[chains]]\nname = "deadnet"\nchain_id = 999\nrpc_url = "{dead_url}"\n'
        'finality = { confirmed = "depth", finalized = "depth", confirmations = 1, '
        "finality_depth = 2 }\n"
    )
    stranded = chain_env.make_request("ETH", 10**18)
    _move_request(chain_env, stranded.id, 999)  # scanned first (lower chain id), and fails
    orphan = chain_env.make_request("ETH", 10**18)
    _move_request(chain_env, orphan.id, 424242)  # a chain the config does not have
    request = chain_env.make_request("USDC", 5 * USDC)
    chain_env.pay_token(request.deposit_address, 5 * USDC)

    watched = run_cli(config, "watch", "--once")
    assert watched.returncode == 1
    assert "deadnet (chain id 999)" in watched.stderr and dead_url in watched.stderr
    assert "Next: check the node, or set rpc_url" in watched.stderr
    assert "chain id 424242: 1 monitored payment request(s)" in watched.stderr
    assert "2 chain(s) not scanned" in watched.stderr
    assert "anvil: head" in watched.stdout and "ethereum" not in watched.stderr
    assert [r.payment_request_id for r in chain_env.receipts()] == [request.id]  # committed


def test_watch_with_nothing_monitored_says_so(
    chain_env: ChainEnv, tmp_path: Path, sqlite_url: str
) -> None:
    config = cli_config(chain_env, tmp_path, sqlite_url)
    watched = run_cli(config, "watch", "--once")
    assert watched.returncode == 0, watched.stderr
    assert "nothing to scan" in watched.stdout
