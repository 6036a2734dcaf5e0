"""report.xlsx an auditor can work in: numbers as numbers, formats per currency, filters.

- Fiat (fair value, invoice amount, debit, credit, totals) are numeric cells with the number
  format of the row's currency (JPY ``#,##0``, USD ``#,##0.00``, BHD ``#,##0.000``), so SUM()
  works. Excel keeps 15 significant digits; journals.csv is the exact record.
- Base units stay integers in their own ``(base units)`` columns, lossless: above Excel's 15
  significant digits they are stored as text (the header's note and the summary say so). A
  ``(token units)`` column beside them reads ``480.00 USDC`` style, for people.
- Frozen header row, autofilter, column widths from the content, tx hashes linked to the
  configured explorer, block times as real date-times (UTC).
Deterministic: fixed zip entry times and document dates (``rezip_deterministic``).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.report_labels import ReportLabels, fiat_exponent
from paybridge_reconciliation.report_totals import (
    TOTAL_COLUMNS,
    TOTAL_LABELS,
    SummaryItem,
    summary_items,
)
from paybridge_reconciliation.result import ReconResult
from paybridge_reconciliation.safe_text import safe_text_frame
from paybridge_reconciliation.tieouts import TIE_OUT_COLUMNS
from paybridge_reconciliation.workflow import RESOLUTION_COLUMNS

EXCEL_DIGITS = 15
BASE_UNITS = {"receipt_amount", "amount_applied", "amount_due", "remaining_due", "amount"}
BASE_UNITS_NO_TOKEN = {"write_off_units"}
FIAT = {
    "fair_value": "invoice_currency",
    "invoice_amount": "invoice_currency",
    "debit": "currency",
    "credit": "currency",
}
INTEGERS = {"chain_id", "block_number", "line", "receipts", "days_to_pay", "age_days", "matches"}
DECIMALS = {"rate": "0.000000##########", "confidence": "0.00"}
TIMES = {"block_time", "first_paid_at", "last_paid_at", "rate_valid_from"}
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
LINKED = {"tx_hash": "explorer_url"}
TIE_NUMBERS = {"expected", "actual", "difference"}
BASE_NOTE = (
    "Exact integer base units. Values longer than Excel's 15 significant digits are stored as "
    "text so that Excel cannot round them; use the CSV outputs for arithmetic on those."
)


def fiat_format(currency: str) -> str:
    exponent = fiat_exponent(currency)
    return "#,##0" if exponent == 0 else "#,##0." + "0" * exponent


def token_format(symbol: str, decimals: int) -> str:
    shown = min(decimals, 8)
    digits = (
        "0.00" + "#" * max(shown - 2, 0) if shown >= 2 else ("0." + "0" * shown if shown else "0")
    )
    return f'#,##{digits} "{symbol.replace(chr(34), "")}"'


def base_units_value(text: str) -> int | str | None:
    """An integer cell where Excel keeps it exactly; text beyond 15 significant digits."""
    text = str(text).strip()
    if not text or not text.lstrip("-").isdigit():
        return text or None
    return int(text) if len(text.lstrip("-").lstrip("0")) <= EXCEL_DIGITS else text


def _decimal(text: object) -> Decimal | None:
    value = str(text).strip()
    if value in ("", "nan", "<NA>", "None"):
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        return None


def _time(text: object) -> datetime | None:
    value = str(text).strip()
    if not value or value in ("nan", "NaT", "<NA>"):
        return None
    return pd.Timestamp(value).tz_convert("UTC").tz_localize(None).to_pydatetime()


class SheetWriter:
    """One write-only sheet: header, typed rows, widths, freeze and filter."""

    def __init__(self, workbook: Any, title: str) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        self.sheet = workbook.create_sheet(title)
        self.cell = lambda value: WriteOnlyCell(self.sheet, value=value)
        self.bold = Font(bold=True)
        self.link = Font(color="0563C1", underline="single")

    def write(self, headers: list[str], rows: list[list[Any]], notes: dict[str, str]) -> None:
        from openpyxl.comments import Comment
        from openpyxl.utils import get_column_letter

        for index, header in enumerate(headers, start=1):
            sample = [len(_shown(r[index - 1])) for r in rows[:300]]
            width = max([len(header), *sample]) + 2
            self.sheet.column_dimensions[get_column_letter(index)].width = min(max(width, 8), 48)
        self.sheet.freeze_panes = "A2"
        last = get_column_letter(max(len(headers), 1))
        self.sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
        head = []
        for header in headers:
            cell = self.cell(header)
            cell.font = self.bold
            if header in notes:
                cell.comment = Comment(notes[header], "PayBridge")
            head.append(cell)
        self.sheet.append(head)
        for row in rows:
            self.sheet.append([self._cell(value) for value in row])

    def _cell(self, value: Any) -> Any:
        if not isinstance(value, Typed):
            return value
        if value.value is None:
            return None
        if not value.link and (value.number_format == "0" and isinstance(value.value, str)):
            return value.value  # base units kept as text: no number format to carry
        cell = self.cell(value.value)
        if value.number_format:
            cell.number_format = value.number_format
        if value.link:
            cell.hyperlink = value.link
            cell.font = self.link
        return cell


class Typed:
    """A value with its number format (and a hyperlink), turned into a styled cell."""

    __slots__ = ("link", "number_format", "value")

    def __init__(self, value: Any, number_format: str = "", link: str = "") -> None:
        self.value, self.number_format, self.link = value, number_format, link


def _shown(value: Any) -> str:
    inner = value.value if isinstance(value, Typed) else value
    if isinstance(inner, datetime):
        return "2026-01-01 00:00:00"
    return "" if inner is None else str(inner)


def table_rows(
    frame: pd.DataFrame, labels: ReportLabels, limit: int, total: int | None = None
) -> tuple[list[str], list[list[Any]], dict[str, str]]:
    """Headers, typed rows and header notes for one engine table (``frame`` may be only its
    first rows: ``total`` is then how many it has)."""
    total = len(frame) if total is None else total
    shown = frame.head(limit)
    plain = shown.astype(object).where(shown.notna(), "").astype(str)
    text = safe_text_frame(plain) if len(plain) else plain
    raw = plain.to_dict("records")
    has_token = "chain_id" in frame.columns and "asset" in frame.columns
    plan: list[tuple[str, Callable[[dict, dict], Any]]] = []
    notes: dict[str, str] = {}
    for column in frame.columns:
        if column == "explorer_url":
            continue
        if column in BASE_UNITS or column in BASE_UNITS_NO_TOKEN:
            header = f"{column} (base units)"
            notes[header] = BASE_NOTE
            plan.append((header, lambda r, _t, c=column: Typed(base_units_value(r[c]), "0")))
            if has_token and column in BASE_UNITS:
                plan.append(
                    (f"{column} (token units)", lambda r, _t, c=column: _tokens(r, c, labels))
                )
        elif column in FIAT:
            currency = FIAT[column]
            plan.append(
                (
                    column,
                    lambda r, _t, c=column, cur=currency: Typed(
                        _decimal(r[c]), fiat_format(r.get(cur, "USD"))
                    ),
                )
            )
        elif column in INTEGERS:
            plan.append((column, lambda r, _t, c=column: _int(r[c])))  # short: General shows them
        elif column in DECIMALS:
            plan.append((column, lambda r, _t, c=column: Typed(_decimal(r[c]), DECIMALS[c])))
        elif column in TIMES:
            header = f"{column} (UTC)"
            plan.append((header, lambda r, _t, c=column: Typed(_time(r[c]), TIME_FORMAT)))
        elif column in TIE_NUMBERS and "tie_out" in frame.columns:
            plan.append((column, lambda r, _t, c=column: _tie_number(r, c)))
        elif column in LINKED:
            url = LINKED[column]
            plan.append((column, lambda r, t, c=column, u=url: Typed(t[c], "", r.get(u, ""))))
        elif frame[column].dtype == bool:
            plan.append((column, lambda r, _t, c=column: r[c] == "True"))
        else:
            plan.append((column, lambda r, t, c=column: t[c] or None))
        if column == "chain_id":
            plan.append(
                ("chain", lambda r, _t: labels.chain(r["chain_id"]) if r["chain_id"] else None)
            )
        if column == "asset" and has_token:
            plan.append(("token", lambda r, _t: labels.asset(r["chain_id"], r["asset"]) or None))
    texts = text.to_dict("records")
    rows = [[make(r, t) for _h, make in plan] for r, t in zip(raw, texts, strict=True)]
    if total > limit:
        rows.append([f"... {total - limit} more rows in the CSV output"])
    return [h for h, _m in plan], rows, notes


def _tie_number(record: dict, column: str) -> Typed:
    """Chain tie-outs compare base units (lossless); ERP tie-outs invoice-currency amounts."""
    if record.get("tie_out") == "subledger_vs_chain":
        return Typed(base_units_value(record[column]), "0")
    return Typed(_decimal(record[column]), "#,##0.00##")


def _int(text: str) -> int | None:
    value = str(text).strip()
    return int(value) if value.lstrip("-").isdigit() else None


def _tokens(record: dict, column: str, labels: ReportLabels) -> Typed | None:
    token = labels.token(record.get("chain_id", ""), record.get("asset", ""))
    units = str(record[column]).strip()
    if token is None or not units.lstrip("-").isdigit():
        return None
    value = Decimal(int(units)).scaleb(-token.decimals)
    return Typed(value, token_format(token.symbol, token.decimals))


def _summary(workbook: Any, items: list[SummaryItem], notes: list[str]) -> None:
    rows: list[list[Any]] = []
    for item in items:
        rows.append([item.label, Typed(item.value, "0.0%" if item.kind == "ratio" else "#,##0")])
    rows.append([None, None])
    rows.extend([["Note", note] for note in notes])
    SheetWriter(workbook, "summary").write(["item", "value"], rows, {})


def _totals(workbook: Any, totals: pd.DataFrame) -> None:
    rows = []
    for record in totals.to_dict("records"):
        money = fiat_format(record["currency"])
        rows.append(
            [
                record["currency"],
                Typed(record["requests"], "#,##0"),
                *[Typed(record[c], money) for c in TOTAL_COLUMNS[2:]],
            ]
        )
    SheetWriter(workbook, "totals").write([TOTAL_LABELS[c] for c in TOTAL_COLUMNS], rows, {})


@dataclass
class WorkbookInput:
    """What report.xlsx shows of a result: the summary, the grand totals and each detail
    table's first rows with its length. Small whatever the result's size, so that it can be
    handed to a second process (`reports.write_reports`)."""

    summary: list[SummaryItem]
    totals: pd.DataFrame
    tables: list[tuple[str, pd.DataFrame, int]]  # sheet title, first rows, all rows
    tie_out_rows: int
    labels: ReportLabels
    limit: int
    as_of: pd.Timestamp


def workbook_input(
    result: ReconResult,
    config: ReconConfig,
    totals: pd.DataFrame,
    tie_outs: pd.DataFrame | None = None,
    resolutions: pd.DataFrame | None = None,
    labels: ReportLabels | None = None,
) -> WorkbookInput:
    """``totals``: `report_totals.grand_totals` of the result (summed once for the reports)."""
    limit = config.xlsx_max_rows
    tie = tie_outs if tie_outs is not None else pd.DataFrame(columns=TIE_OUT_COLUMNS)
    manual = resolutions if resolutions is not None else pd.DataFrame(columns=RESOLUTION_COLUMNS)
    tables = [
        ("request_status", result.requests_status),
        ("matches", result.matches.drop(columns=["explanation"], errors="ignore")),
        ("exceptions", result.exceptions),
        ("journals", result.journals),
        ("tie_outs", _tie_out_frame(tie)),
        ("manual_resolutions", manual.astype(str)),
    ]
    return WorkbookInput(
        summary=summary_items(result),
        totals=totals,
        tables=[(title, frame.head(limit), len(frame)) for title, frame in tables],
        tie_out_rows=len(tie),
        labels=labels or ReportLabels(),
        limit=limit,
        as_of=result.as_of,
    )


def write_workbook(data: WorkbookInput, path: Path) -> None:
    """report.xlsx from `workbook_input` (in `reports.write_reports`, by a second process)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    ties = data.tie_out_rows
    _summary(
        workbook,
        data.summary,
        [
            "Amounts in (base units) columns are exact integers; above 15 significant digits "
            "they are stored as text (Excel would round them).",
            "Fiat cells are numbers in the invoice currency's format; the CSV outputs are exact.",
            "Times are UTC.",
            f"Tie-out rows: {ties} ({'none run' if not ties else 'latest run per kind'}).",
        ],
    )
    _totals(workbook, data.totals)
    for title, frame, total in data.tables:
        headers, rows, notes = table_rows(frame, data.labels, data.limit, total)
        SheetWriter(workbook, title).write(headers, rows, notes)
    fixed = data.as_of.tz_convert("UTC").tz_localize(None).to_pydatetime()
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.properties.creator = "PayBridge"
    buffer = io.BytesIO()
    workbook.save(buffer)
    rezip_deterministic(buffer.getvalue(), path, data.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"))


def rezip_deterministic(data: bytes, path: Path, stamp: str) -> None:
    """Fixed zip entry times, and the save-time 'modified' date replaced by the run's as_of."""
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    payload,
                )
            target.writestr(entry, payload)


def _tie_out_frame(tie: pd.DataFrame) -> pd.DataFrame:
    """Text everywhere first; expected/actual/difference become numbers in ``_tie_number``."""
    return tie.astype(str).replace({"nan": "", "None": ""})
