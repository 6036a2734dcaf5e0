"""The CLI as a user runs it: a real process, a real SQLite file, exit codes and JSON."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
MNEMONIC = "test test test test test test test test test test test junk"
INVOICES = """invoice_id,customer_id,amount,currency,chain,asset,due_date
INV-1,ACME,100.00,USD,anvil,USDC,2026-12-31
INV-2,GLOBEX,1500.00,USD,anvil,ETH,2026-12-15
INV-3,ACME,12.345,USD,anvil,USDC,
"""


def run(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PAYBRIDGE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    run(tmp_path, "init")
    (tmp_path / "invoices.csv").write_text(INVOICES)
    return tmp_path


def test_import_create_list_show_verify(workdir: Path) -> None:
    imported = run(workdir, "invoices", "import", "invoices.csv", "--json", ok=False)
    assert imported.returncode == 1  # one record was rejected
    summary = json.loads(imported.stdout)
    assert summary["imported"] == 2
    assert summary["rejected"] == [
        {
            "line": 4,
            "invoice_id": "INV-3",
            "field": "amount",
            "message": summary["rejected"][0]["message"],
        }
    ]
    created = json.loads(run(workdir, "requests", "create", "--json").stdout)
    assert created["created"] == 2
    again = json.loads(run(workdir, "requests", "create", "--json").stdout)
    assert again["created"] == 0

    listed = json.loads(run(workdir, "requests", "list", "--json").stdout)
    assert {r["invoice_id"] for r in listed} == {"INV-1", "INV-2"}
    eth = next(r for r in listed if r["asset"] == "ETH")
    assert eth["amount_due"] == "500000000000000000"  # 1500 USD at 3000 USD/ETH
    assert eth["payment_uri"].endswith("@31337?value=500000000000000000")

    shown = json.loads(
        run(workdir, "requests", "show", eth["id"], "--qr-dir", "qr", "--json").stdout
    )
    assert shown["deposit_address"] == eth["deposit_address"]
    assert (workdir / "qr" / f"{eth['id']}.svg").read_text().startswith("<?xml")
    assert (workdir / "qr" / f"{eth['id']}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    verified = json.loads(run(workdir, "audit", "verify", "--json").stdout)
    assert verified == {"ok": True, "entries": 2, "first_bad_entry": None, "problem": None}


def test_audit_verify_fails_on_tampering(workdir: Path) -> None:
    run(workdir, "invoices", "import", "invoices.csv", ok=False)
    run(workdir, "requests", "create")
    with sqlite3.connect(workdir / "paybridge.db") as db:
        db.execute("update audit_log set reason = 'nothing to see' where seq = 2")
    result = run(workdir, "audit", "verify", ok=False)
    assert result.returncode == 1
    assert "entry 2" in result.stderr


def test_private_keys_on_the_command_line_exit_2(workdir: Path) -> None:
    result = run(workdir, "addresses", "derive", "--xpub", MNEMONIC, "--index", "0", ok=False)
    assert result.returncode == 2
    assert "never holds private keys" in result.stderr
    result = run(workdir, "requests", "show", *MNEMONIC.split(), ok=False)
    assert result.returncode == 2


def test_private_keys_in_config_exit_2(workdir: Path) -> None:
    (workdir / "paybridge.toml").write_text(f'[merchant]\nxpub = "{MNEMONIC}"\n')
    result = run(workdir, "requests", "list", ok=False)
    assert result.returncode == 2
    assert "merchant.xpub" in result.stderr and "never holds private keys" in result.stderr


def test_usage_errors_exit_2(workdir: Path) -> None:
    assert run(workdir, "requests", "list", "--status", "paid-ish", ok=False).returncode == 2
    assert run(workdir, "invoices", "import", ok=False).returncode == 2


def test_commands_before_init_say_what_to_do(tmp_path: Path) -> None:
    result = run(tmp_path, "requests", "list", ok=False)
    assert result.returncode == 1 and "paybridge init" in result.stderr


def test_init_writes_no_usable_key_for_real_chains(workdir: Path) -> None:
    """The report: requests on `ethereum` got mainnet addresses of a public test key."""
    (workdir / "mainnet.csv").write_text(
        "invoice_id,customer_id,amount,currency,chain,asset\nINV-9,ACME,10.00,USD,ethereum,USDC\n"
    )
    run(workdir, "invoices", "import", "mainnet.csv")
    result = run(workdir, "requests", "create", ok=False)
    assert result.returncode == 2
    assert "no merchant xpub for chain ethereum" in result.stderr
    assert "m/44'/60'/0'" in result.stderr and "[merchant] xpub" in result.stderr
    assert json.loads(run(workdir, "requests", "list", "--json").stdout) == []


def test_public_test_key_as_merchant_xpub_exits_2(workdir: Path) -> None:
    demo = tomllib.loads((workdir / "paybridge.toml").read_text())["chains"][-1]["xpub"]
    (workdir / "paybridge.toml").write_text(f'[merchant]\nxpub = "{demo}"\n')
    result = run(workdir, "requests", "list", ok=False)
    assert result.returncode == 2
    assert "merchant.xpub: refused for chain ethereum" in result.stderr
    assert "m/44'/60'/0'" in result.stderr
