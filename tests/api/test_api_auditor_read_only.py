"""The auditor role is read-only in every command it can reach: each of them run as an
auditor on a store with invoices and requests leaves every table exactly as it was, and the
commands that change something are refused naming the role."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from paybridge.access.roles import COMMANDS, PUBLIC, may_run

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
ROOT = Path(__file__).resolve().parents[2]
READS: dict[str, tuple[str, ...]] = {
    "audit log": ("audit", "log"),
    "audit verify": ("audit", "verify"),
    "erp quarantine": ("erp", "quarantine"),
    "exceptions list": ("exceptions", "list"),
    "exceptions show": ("exceptions", "show", "EX-000000000000"),
    "invoices list": ("invoices", "list"),
    "invoices show": ("invoices", "show", "INV-1001"),
    "receipts list": ("receipts", "list"),
    "report period": ("report", "period", "--from", "2026-11-01", "--to", "2026-11-30"),
    "requests gaps": ("requests", "gaps"),
    "requests list": ("requests", "list"),
    "requests show": ("requests", "show", "pr_none"),
    "settlements list": ("settlements", "list"),
    "settlements show": ("settlements", "show", "pb-none"),
    "status": ("status",),
}
WRITES = [
    ("requests", "create"),
    ("requests", "expire"),
    ("reconcile",),
    ("invoices", "import", str(ROOT / "examples" / "invoices.csv")),
    ("audit", "checkpoint"),
    ("settlements", "requeue", "pb-none", "--reason", "x"),
    ("users", "add", "mallory", "--role", "admin"),
]


def _run(cwd: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
    if token:
        env["PAYBRIDGE_TOKEN"] = token
    return subprocess.run(
        [PAYBRIDGE, *args], cwd=cwd, capture_output=True, text=True, timeout=180, env=env
    )


def _tables(db: Path) -> dict[str, str]:
    """Every table's content, hashed: equal digests mean nothing was written."""
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        return {
            name: hashlib.sha256(
                repr(sorted(map(repr, conn.execute(f'select * from "{name}"')))).encode()
            ).hexdigest()
            for name in names
        }


def test_every_command_an_auditor_reaches_writes_nothing(tmp_path: Path) -> None:
    reachable = {p for p in COMMANDS if COMMANDS[p] is not PUBLIC and may_run("auditor", p)}
    assert reachable == set(READS), "a command the auditor may run is not covered here"
    assert _run(tmp_path, "init").returncode == 0
    _run(tmp_path, "invoices", "import", str(ROOT / "examples" / "invoices.csv"))
    assert _run(tmp_path, "requests", "create").returncode == 0
    added = _run(tmp_path, "users", "add", "ana", "--role", "auditor", "--json")
    token = json.loads(added.stdout)["token"]
    db = tmp_path / "paybridge.db"
    before = _tables(db)
    with sqlite3.connect(db) as conn:  # something to read, and to protect
        assert conn.execute("select count(*) from payment_requests").fetchone()[0] > 0
    for path, args in READS.items():
        out = _run(
            tmp_path,
            *args,
            *(("--out", str(tmp_path / "pack")) if path == "report period" else ()),
            token=token,
        )
        assert "role auditor" not in out.stderr, (path, out.stderr)
        assert out.returncode in (0, 1, 2), (path, out.returncode)
    for args in WRITES:
        out = _run(tmp_path, *args, token=token)
        assert out.returncode == 1 and "role auditor" in out.stderr, (args, out.stderr)
    assert _tables(db) == before
