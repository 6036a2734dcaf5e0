"""Golden files of the human formats: compared byte for byte; rewritten (and the test failed,
so a person reviews the diff) when PAYBRIDGE_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PAYBRIDGE_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
        raise AssertionError(f"rewrote {path}: review the diff, then run without the variable")
    assert path.exists(), f"{path} missing: run once with PAYBRIDGE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from {path}"
