"""report.xlsx typed for auditors (numbers, formats, lossless base units, links, filters) and
report.html / report.pdf with names, totals, journals and tie-outs (issue 14, items 3-4)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.generate import generate
from paybridge_reconciliation.report_labels import (
    DEFAULT_CHAINS,
    DEFAULT_TOKENS,
    ReportLabels,
    units_text,
)
from paybridge_reconciliation.report_totals import days_to_pay_buckets, grand_totals
from paybridge_reconciliation.reports import write_reports
from paybridge_reconciliation.result import reconcile
from paybridge_reconciliation.tieouts import TIE_OUT_COLUMNS

TIE = pd.DataFrame(
    [
        [
            "subledger_vs_chain",
            "1:0xabababababababababababababababababababab:native@5",
            "91683333333333333333",
            "91683333333333333333",
            "0",
            "ok",
            "ethereum at block 5",
        ],
        ["subledger_vs_erp", "R1", "12.50", "", "", "MISSING_IN_ERP", ""],
    ],
    columns=TIE_OUT_COLUMNS,
)


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> tuple[Path, object]:
    s = generate(11, 300)
    result = reconcile(s.requests, s.receipts, s.rates)
    out = tmp_path_factory.mktemp("reports")
    labels = ReportLabels().with_decimals([(8453, s.requests["asset"].iloc[0], 6)])
    write_reports(result, ReconConfig(), out, tie_outs=TIE, labels=labels)
    return out, result


def header_map(sheet) -> dict[str, int]:
    return {c.value: i for i, c in enumerate(next(sheet.iter_rows(max_row=1)))}


def test_xlsx_cells_are_typed_with_currency_formats(pack):
    out, result = pack
    book = load_workbook(out / "report.xlsx")
    matches = book["matches"]
    assert matches.freeze_panes == "A2"
    assert matches.auto_filter.ref.startswith("A1:")
    head = header_map(matches)
    row = next(matches.iter_rows(min_row=2, max_row=2))
    fair = row[head["fair_value"]]
    assert isinstance(fair.value, float | int) and fair.number_format == "#,##0.00"
    first = result.matches.iloc[0]
    assert Decimal(str(fair.value)).quantize(Decimal("0.01")) == Decimal(first["fair_value"])
    assert isinstance(row[head["block_number"]].value, int)
    assert isinstance(row[head["block_time (UTC)"]].value, datetime)
    assert isinstance(row[head["paid_late"]].value, bool)
    tx = row[head["tx_hash"]]
    assert tx.hyperlink is not None and tx.hyperlink.target.startswith("https://")
    assert matches.column_dimensions["A"].width >= 10
    # base units lossless: integers up to 15 digits, text beyond, with the note on the header
    base = [r[head["amount_applied (base units)"]].value for r in matches.iter_rows(min_row=2)]
    texts = {str(v) for v in result.matches["amount_applied"]}
    assert {str(v) for v in base if v is not None} <= texts
    assert any(isinstance(v, int) for v in base) and any(isinstance(v, str) for v in base)
    assert all(len(v) > 15 for v in base if isinstance(v, str))
    assert (
        "15 significant digits"
        in matches.cell(1, head["amount_applied (base units)"] + 1).comment.text
    )
    token = row[head["amount_applied (token units)"]]
    assert isinstance(token.value, float | int) and '"' in token.number_format


def test_xlsx_summary_totals_status_and_tie_outs_are_numbers(pack):
    out, result = pack
    book = load_workbook(out / "report.xlsx")
    summary = {r[0].value: r[1] for r in book["summary"].iter_rows(min_row=2) if r[0].value}
    assert summary["Requests"].value == 300
    share = summary["Matched share of requests"]
    assert isinstance(share.value, float) and share.number_format == "0.0%"
    totals = book["totals"]
    head = header_map(totals)
    expected = grand_totals(result, ReconConfig()).set_index("currency")
    for row in totals.iter_rows(min_row=2):
        currency = row[head["Currency"]].value
        cell = row[head["Invoiced"]]
        assert cell.number_format == ("#,##0" if currency == "JPY" else "#,##0.00")
        assert (
            Decimal(str(cell.value)).quantize(Decimal("0.01")) == expected.loc[currency, "invoiced"]
        )
    status = book["request_status"]
    assert status.max_row == 301
    ties = list(book["tie_outs"].iter_rows(min_row=2, values_only=True))
    assert ties[0][2] == "91683333333333333333"  # 20 digits: text, exact
    assert ties[1][2] == 12.5 and ties[1][5] == "MISSING_IN_ERP"


def test_html_has_names_totals_sections_and_short_ids(pack):
    out, _result = pack
    page = (out / "report.html").read_text()
    assert "Base · USDC" in page or "Ethereum · USDC" in page
    assert "8453 0x833589fc" not in page
    for section in ("Grand totals", "Journals", "Tie-outs", "Manual resolutions", "Exceptions"):
        assert section in page
    assert 'class="copy"' in page and "data-copy=" in page
    for loader in ("<link", "src=", "@import"):  # nothing loaded from anywhere
        assert loader not in page
    assert re.findall(r"url\((?!#)", page) == []  # only in-page references (SVG clip paths)
    assert "before request" in page and "same day" in page  # days-to-pay buckets
    assert "MISSING_IN_ERP" in page
    assert "91.683333333333333333 ETH" in page  # chain tie-out base units read as tokens


def test_pdf_is_the_printed_report_and_deterministic(pack, tmp_path):
    out, result = pack
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    labels = ReportLabels().with_decimals([(8453, result.requests_status["asset"].iloc[0], 6)])
    write_reports(result, ReconConfig(), tmp_path, tie_outs=TIE, labels=labels)
    for name in ("report.html", "report.pdf", "report.xlsx"):  # same run, same bytes
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def test_days_to_pay_buckets_keep_negative_and_same_day_apart(pack):
    _out, result = pack
    buckets = dict(days_to_pay_buckets(result))
    days = result.requests_status["days_to_pay"].dropna().astype("int64")
    assert buckets["before request"] == int((days < 0).sum())
    assert buckets["same day"] == int((days == 0).sum())
    assert sum(buckets.values()) == len(days)


def test_units_text_is_exact_for_18_decimals_above_2_63():
    assert units_text(91683333333333333, 18) == "0.091683333333333333"
    assert units_text(2**64, 18) == "18.446744073709551616"
    assert units_text(480_000_000, 6) == "480.00"


def test_builtin_registry_mirrors_defaults_toml():
    import tomllib

    defaults = tomllib.loads(
        (Path(__file__).parents[2] / "paybridge" / "defaults.toml").read_text()
    )
    ids = {c["name"]: c["chain_id"] for c in defaults["chains"]}
    for asset in defaults["assets"]:
        key = (ids[asset["chain"]], (asset.get("address") or "native").lower())
        assert DEFAULT_TOKENS[key].symbol == asset["symbol"]
        assert DEFAULT_TOKENS[key].decimals == asset["decimals"]
    assert set(ids.values()) <= set(DEFAULT_CHAINS)


def test_fiat_formats_follow_the_iso_exponent():
    from paybridge_reconciliation.report_labels import fiat_text
    from paybridge_reconciliation.report_xlsx import base_units_value, fiat_format

    assert fiat_format("JPY") == "#,##0" and fiat_text("1200", "JPY") == "1,200 JPY"
    assert fiat_format("BHD") == "#,##0.000" and fiat_text("1.25", "BHD") == "1.250 BHD"
    assert fiat_format("USD") == "#,##0.00" and fiat_text("-12345.6", "USD") == "-12,345.60 USD"
    assert base_units_value("999999999999999") == 999999999999999  # 15 digits: a number
    assert base_units_value("1000000000000000") == "1000000000000000"  # 16: text, exact


def test_tie_outs_and_resolutions_files_round_trip_their_text(tmp_path):
    """The store pack writes them spreadsheet-safe; the re-performance shows the original."""
    from paybridge_reconciliation.files import read_text_table, write_csv

    frame = pd.DataFrame(
        {"key": ["=HYPERLINK(1)", "-5", "@x", ""], "detail": ["a\\b", "'q", "1", "2"]}
    )
    write_csv(frame, tmp_path / "t.csv")
    assert "'=HYPERLINK" in (tmp_path / "t.csv").read_text()
    assert read_text_table(tmp_path / "t.csv").equals(frame)
