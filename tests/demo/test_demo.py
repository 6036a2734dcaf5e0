"""`make demo` keeps working: the whole demo runs in a fresh directory and ends verified."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

from paybridge.domain.settlements import Settlement


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paybridge.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "hash chain verified" in out
    assert "confirmed" in out and "paid_partial" in out and "paid_over" in out
    assert "rejected" in out  # the sample file's bad records are reported
    assert "UNDERPAID" in out and "OVERPAYMENT" in out  # exceptions queue
    assert "Paid In Full" in out  # posted back to NetSuite
    demo = tmp_path / ".paybridge-demo"
    assert (demo / "paybridge.db").exists()
    # the output is true: every settlement ended posted, or not postable with its reason shown
    with sqlite3.connect(demo / "paybridge.db") as db:
        outbox = db.execute(
            "select settlement_id, status, connection, last_error from settlement_outbox"
        ).fetchall()
    states = Counter(status for _sid, status, _conn, _error in outbox)
    assert set(states) <= {"posted", "needs_attention"}, states  # nothing waits silently
    per_connection = Counter(conn for _sid, status, conn, _error in outbox if status == "posted")
    assert set(per_connection) == {"netsuite_demo", "sap_demo"}
    for connection, count in per_connection.items():
        assert f"{connection}: {count} settlements posted, 0 to retry, 0 failed" in out
    assert f"{states['posted']} settlements queued for posting" in out
    assert f"{states['needs_attention']} not postable" in out
    for sid, status, connection, error in outbox:
        assert sid in out
        if status == "needs_attention":
            assert connection == "" and "not synced from an ERP connection" in error
    assert len(list((demo / "qr").glob("*.svg"))) == len(list((demo / "qr").glob("*.png"))) > 0
    assert_books_close(demo, outbox)


def assert_books_close(demo: Path, outbox: list[tuple[str, str, str, str]]) -> None:
    """The ledgers after the demo, per ERP connection (NetSuite and SAP S/4HANA): `tieout erp`
    finds nothing, the ERP's general-ledger lines of PayBridge's records equal the subledger
    journals account by account, clearing is zero, A/R is the open invoices less the customer
    credit left by overpayments, the digital-asset account holds the fair value received, and
    every invoice paid left "open"."""
    connections = json.loads((demo / "summary.json").read_text())["connections"]
    assert set(connections) == {"netsuite_demo", "sap_demo"}
    with sqlite3.connect(demo / "paybridge.db") as db:
        rows = db.execute("select connection, payload, status from settlement_outbox").fetchall()
    digital_asset = {"netsuite_demo": "302", "sap_demo": "0011003000"}  # stablecoins
    for name, books in connections.items():
        assert books["erp_tieout_differences"] == 0 and books["ledger_differences"] == {}, name
        tb = {account: Decimal(amount) for account, amount in books["trial_balance"].items()}
        [clearing] = books["accounts"]["crypto_clearing"]
        [receivable] = books["accounts"]["accounts_receivable"]
        assert tb[clearing] == 0, name
        open_total = sum(Decimal(v) for v in books["open_invoices"].values())
        credit = Decimal(books["unapplied_customer_credit"])
        assert tb[receivable] == open_total - credit, name
        posted = [
            Settlement.from_json(json.loads(payload))
            for connection, payload, status in rows
            if status == "posted" and connection == name
        ]
        assert len(posted) == books["settlements_posted"] > 0, name
        fair_value = sum(
            (x.debit for s in posted for x in s.journal_lines if x.account_role == "digital_asset"),
            Decimal(0),
        )
        assert tb[digital_asset[name]] == fair_value > 0, name
        paid = {a.invoice_id for s in posted for a in s.applications}
        assert paid and not paid & set(books["open_invoices"]), name
    netsuite = connections["netsuite_demo"]
    assert Decimal(netsuite["unapplied_customer_credit"]) > 0  # the overpayment
    assert netsuite["trial_balance"]["304"] != "0.00"  # the within-tolerance write-off
