"""`make demo` keeps working: the whole demo runs in a fresh directory and ends verified."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path


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
