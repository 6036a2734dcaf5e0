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
    # init's admin user, then the two requests
    assert verified == {"ok": True, "entries": 3, "first_bad_entry": None, "problem": None}


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


def _rechain_without_key(db_path: Path) -> None:
    """An attacker with write access to the database but not the key: edit entry 2, then
    recompute every hash (the published, unkeyed algorithm) and the tip."""
    import hashlib
    from datetime import UTC, datetime

    with sqlite3.connect(db_path) as db:
        db.execute("update audit_log set reason = 'nothing to see' where seq = 2")
        rows = db.execute(
            "select seq, at, actor, entity_type, entity_id, action, before, after, reason "
            "from audit_log order by seq"
        ).fetchall()
        prev = "0" * 64
        for seq, at, *fields in rows:
            when = datetime.fromisoformat(at)  # SQLite keeps UTC without the offset
            stamp = when.replace(tzinfo=when.tzinfo or UTC).isoformat(timespec="microseconds")
            payload = json.dumps([seq, stamp, prev, *fields], separators=(",", ":"))
            digest = hashlib.sha256(payload.encode()).hexdigest()
            db.execute(
                "update audit_log set prev_hash = ?, hash = ? where seq = ?", (prev, digest, seq)
            )
            prev = digest
        db.execute("update audit_head set hash = ?", (prev,))
        if "key_id" in {r[1] for r in db.execute("pragma table_info(audit_log)")}:
            db.execute("update audit_log set key_id = null")


def test_init_writes_a_private_audit_key_outside_the_database(workdir: Path) -> None:
    key = workdir / "paybridge-audit.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_bytes() not in (workdir / "paybridge.db").read_bytes()
    again = run(workdir, "init")  # idempotent: the key is kept, not replaced
    assert "audit key" not in again.stdout
    key.chmod(0o644)
    loose = run(workdir, "audit", "verify", ok=False)
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
    key.unlink()
    run(workdir, "invoices", "import", "invoices.csv", ok=False)
    missing = run(workdir, "requests", "create", ok=False)
    assert missing.returncode == 2 and "paybridge init" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_audit_verify_fails_when_every_hash_is_recomputed_after_an_edit(workdir: Path) -> None:
    run(workdir, "invoices", "import", "invoices.csv", ok=False)
    run(workdir, "requests", "create")
    _rechain_without_key(workdir / "paybridge.db")
    result = run(workdir, "audit", "verify", ok=False)
    assert result.returncode == 1, result.stdout


def test_audit_checkpoint_catches_deletion_and_refuses_forgery(workdir: Path) -> None:
    run(workdir, "invoices", "import", "invoices.csv", ok=False)
    run(workdir, "requests", "create")
    made = run(workdir, "audit", "checkpoint", "--out", "cp.json", "--json")
    checkpoint = json.loads(made.stdout)
    assert (  # init's admin user, then the two requests
        checkpoint["entries"] == 3 and json.loads((workdir / "cp.json").read_text()) == checkpoint
    )
    assert (workdir / "cp.json").stat().st_mode & 0o777 == 0o600
    run(workdir, "audit", "verify", "--checkpoint", "cp.json")

    forged = {**checkpoint, "entries": 2}
    forged["token"] = checkpoint["token"].replace("pbcp1:3:", "pbcp1:2:", 1)
    (workdir / "forged.json").write_text(json.dumps(forged))
    refused = run(workdir, "audit", "verify", "--checkpoint", "forged.json", ok=False)
    assert refused.returncode == 1 and "forged" in refused.stderr

    (workdir / "memo.txt").write_text(f"PayBridge settlement pb-1 audit {checkpoint['token']}\n")
    run(workdir, "audit", "verify", "--checkpoint", "memo.txt")  # the ERP memo form

    with sqlite3.connect(workdir / "paybridge.db") as db:
        db.execute("delete from audit_log")
        db.execute("delete from audit_head")
    assert run(workdir, "audit", "verify").returncode == 0  # an empty log is consistent...
    gone = run(workdir, "audit", "verify", "--checkpoint", "cp.json", ok=False)
    assert gone.returncode == 1 and "deleted" in gone.stderr  # ...but not with the checkpoint


def test_audit_key_rotation_from_the_cli(workdir: Path) -> None:
    run(workdir, "invoices", "import", "invoices.csv", ok=False)
    run(workdir, "requests", "create", "--invoice", "INV-1")
    before = json.loads(run(workdir, "audit", "checkpoint", "--json").stdout)
    rotated = run(workdir, "audit", "rotate-key")
    assert "older key(s) kept" in rotated.stdout
    assert (workdir / "paybridge-audit.key").stat().st_mode & 0o777 == 0o600
    run(workdir, "requests", "create", "--invoice", "INV-2")
    after = json.loads(run(workdir, "audit", "checkpoint", "--json").stdout)
    assert after["key_id"] != before["key_id"] and after["entries"] == 3  # admin + 2 requests
    (workdir / "before.json").write_text(json.dumps(before))
    run(workdir, "audit", "verify", "--checkpoint", "before.json")
