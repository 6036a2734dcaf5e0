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
    assert f"{states['posted']} settlements posted, 0 to retry, 0 failed to post" in out
    assert f"{states['posted']} settlements queued for posting" in out
    assert f"{states['needs_attention']} not postable" in out
    for sid, status, connection, error in outbox:
        assert sid in out
        if status == "needs_attention":
            assert connection == "" and "not synced from an ERP connection" in error
    assert len(list((demo / "qr").glob("*.svg"))) == len(list((demo / "qr").glob("*.png"))) > 0
    assert_books_close(demo, outbox)


def assert_books_close(demo: Path, outbox: list[tuple[str, str, str, str]]) -> None:
    """The ledger after the demo: `tieout erp` finds nothing, the ERP's general-ledger lines of
    PayBridge's records equal the subledger journals account by account, clearing is zero,
    A/R is the open invoices less the customer credit left by overpayments, the digital-asset
    account holds the fair value received, and every invoice paid in full left "open"."""
    [(name, books)] = json.loads((demo / "summary.json").read_text())["connections"].items()
    assert name == "netsuite_demo"
    assert books["erp_tieout_differences"] == 0 and books["ledger_differences"] == {}
    tb = {account: Decimal(amount) for account, amount in books["trial_balance"].items()}
    [clearing] = books["accounts"]["crypto_clearing"]
    [receivable] = books["accounts"]["accounts_receivable"]
    assert tb[clearing] == 0
    open_total = sum(Decimal(v) for v in books["open_invoices"].values())
    credit = Decimal(books["unapplied_customer_credit"])
    assert credit > 0 and tb[receivable] == open_total - credit
    posted = [
        Settlement.from_json(json.loads(payload))
        for payload, status in sqlite3.connect(demo / "paybridge.db").execute(
            "select payload, status from settlement_outbox"
        )
        if status == "posted"
    ]
    fair_value = sum(
        (x.debit for s in posted for x in s.journal_lines if x.account_role == "digital_asset"),
        Decimal(0),
    )
    assert tb["302"] == fair_value > 0  # the stablecoin account of subsidiary 1
    assert any(s.write_offs for s in posted) and any(s.unapplied for s in posted)
    paid = {a.invoice_id for s in posted for a in s.applications}
    assert paid and not paid & set(books["open_invoices"])
