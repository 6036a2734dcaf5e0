"""Fuzz `paybridge reconcile-files`: valid inputs with one cell replaced by hostile text, or bytes
spliced in, never end in a traceback: exit 0, 1 or 2, a message when refused, and no pack
published on a refusal. Complements the named corpus in
tests/reconciliation/test_reconciliation_hostile_inputs.py."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from paybridge_reconciliation.generate import generate, write_csvs
from typer.testing import CliRunner

from paybridge.cli.main import app

FILES = ("requests", "receipts", "rates")
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "-1", "0", "1e3", "1_000", "١٢٣", "１２", "=1+2", "\t@x", "'", "\\", "\x00", "9" * 90]
    ),
)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_csvs(generate(7, 12), tmp_path_factory.mktemp("clean"))


def _run(paths: dict[str, Path], out: Path) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(
        app,
        [
            "reconcile-files",
            "--requests", str(paths["requests"]),
            "--receipts", str(paths["receipts"]),
            "--rates", str(paths["rates"]),
            "--out", str(out),
            "--no-reports",
        ],
    )  # fmt: skip
    return result.exit_code, result.output, result.exception


def _check(paths: dict[str, Path], out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    code, output, exception = _run(paths, out)
    assert code in (0, 1, 2), output
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    assert "Traceback" not in output
    if code != 0:
        assert output.strip(), "a refusal says why"
        assert not (out / "manifest.json").exists(), "nothing published on a refusal"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.sampled_from(FILES),
    row=st.integers(min_value=0, max_value=12),
    column=st.integers(min_value=0, max_value=20),
    value=HOSTILE_TEXT,
)
@example(which="requests", row=0, column=0, value="\r")  # found by this test: a CR in the header
def test_one_hostile_cell(clean, tmp_path: Path, which: str, row: int, column: int, value: str):  # type: ignore[no-untyped-def]
    rows = list(csv.reader(io.StringIO(clean[which].read_text(encoding="utf-8"))))
    target = rows[min(row, len(rows) - 1)]
    target[column % len(target)] = value
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    path = tmp_path / f"{which}.csv"
    path.write_text(text.getvalue(), encoding="utf-8", errors="surrogatepass")
    _check({**clean, which: path}, tmp_path / "out")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(which=st.sampled_from(FILES), cut=st.integers(min_value=0), junk=st.binary(max_size=64))
def test_bytes_spliced_in(clean, tmp_path: Path, which: str, cut: int, junk: bytes):  # type: ignore[no-untyped-def]
    data = clean[which].read_bytes()
    at = cut % (len(data) + 1)
    path = tmp_path / f"{which}.csv"
    path.write_bytes(data[:at] + junk + data[at:])
    _check({**clean, which: path}, tmp_path / "out")
