"""`make demo` keeps working: the whole demo runs in a fresh directory and ends verified."""

from __future__ import annotations

import subprocess
import sys
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
    assert "Paid In Full" in out and "0 need attention" in out  # posted back to NetSuite
    demo = tmp_path / ".paybridge-demo"
    assert (demo / "paybridge.db").exists()
    assert len(list((demo / "qr").glob("*.svg"))) == len(list((demo / "qr").glob("*.png"))) > 0
