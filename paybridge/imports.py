"""Read invoices from CSV or JSON files, keeping every valid record and explaining every other.

A rejected record is reported with its line (CSV: the file line; JSON: the record number),
its invoice id when it has one, the field and what is wrong. Duplicated ids inside one file
are all rejected: PayBridge cannot know which of them the ERP meant.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.domain.money import MoneyError, currency_exponent, parse_fiat
from paybridge.invoices import InvoiceRecord

REQUIRED = ("invoice_id", "customer_id", "amount", "currency", "chain", "asset")
DEFAULTS = {"erp_system": "import", "company": "default"}


@dataclass(frozen=True)
class Rejection:
    line: int
    invoice_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        ident = f" (invoice {self.invoice_id})" if self.invoice_id else ""
        return f"line {self.line}{ident}: {self.field}: {self.message}"


@dataclass(frozen=True)
class ParsedFile:
    records: list[InvoiceRecord]
    rejections: list[Rejection]


class ImportFileError(ValueError):
    """The file as a whole cannot be read (missing, wrong format, missing columns)."""


def read_invoice_file(path: Path, config: PayBridgeConfig) -> ParsedFile:
    raw = list(_raw_records(path))
    counts = Counter(
        (
            _text(row, "erp_system") or DEFAULTS["erp_system"],
            _text(row, "company") or DEFAULTS["company"],
            _text(row, "invoice_id"),
        )
        for _, row in raw
    )
    records: list[InvoiceRecord] = []
    rejections: list[Rejection] = []
    for line, row in raw:
        invoice_id = _text(row, "invoice_id")
        key = (
            _text(row, "erp_system") or DEFAULTS["erp_system"],
            _text(row, "company") or DEFAULTS["company"],
            invoice_id,
        )
        if invoice_id and counts[key] > 1:
            rejections.append(
                Rejection(
                    line,
                    invoice_id,
                    "invoice_id",
                    f"appears {counts[key]} times in this file; fix the file and re-import",
                )
            )
            continue
        try:
            records.append(_validate(row, config))
        except _FieldError as err:
            rejections.append(Rejection(line, invoice_id or None, err.field, err.message))
    return ParsedFile(records, rejections)


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _text(row: Mapping[str, Any], field: str) -> str:
    value = row.get(field)
    return "" if value is None else str(value).strip()


def _validate(row: Mapping[str, Any], config: PayBridgeConfig) -> InvoiceRecord:
    for field in REQUIRED:
        if not _text(row, field):
            raise _FieldError(field, "missing")
    if isinstance(row.get("amount"), float):
        raise _FieldError("amount", "write amounts as strings in JSON, floats are not exact")
    currency = _text(row, "currency")
    try:
        currency_exponent(currency)
    except MoneyError as exc:
        raise _FieldError("currency", str(exc)) from exc
    try:
        amount = parse_fiat(_text(row, "amount"), currency)
    except MoneyError as exc:
        raise _FieldError("amount", str(exc)) from exc
    if amount <= 0:
        raise _FieldError("amount", f"must be positive, got {amount}")
    try:
        asset = config.asset(_text(row, "chain"), _text(row, "asset"))
    except ConfigError as exc:
        field = "chain" if "unknown chain" in str(exc) else "asset"
        raise _FieldError(field, str(exc)) from exc
    if asset.rate.currency != currency:
        raise _FieldError(
            "currency", f"{asset.symbol} on {asset.chain} is priced in {asset.rate.currency}"
        )
    due_text = _text(row, "due_date")
    try:
        due = date.fromisoformat(due_text) if due_text else None
    except ValueError as exc:
        raise _FieldError("due_date", f"{due_text!r} is not an ISO date (YYYY-MM-DD)") from exc
    return InvoiceRecord(
        erp_system=_text(row, "erp_system") or DEFAULTS["erp_system"],
        company=_text(row, "company") or DEFAULTS["company"],
        invoice_id=_text(row, "invoice_id"),
        customer_id=_text(row, "customer_id"),
        amount=amount,
        currency=currency,
        due_date=due,
        chain=asset.chain,
        asset_symbol=asset.symbol,
        customer_email=_text(row, "customer_email") or None,
    )


def _raw_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_records(path)
    elif suffix == ".json":
        yield from _json_records(path)
    else:
        raise ImportFileError(f"{path}: unsupported file type {suffix!r}; use .csv or .json")


def _csv_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportFileError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


def _json_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=float)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    items = data.get("invoices") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ImportFileError(f'{path}: expected a list of invoices or {{"invoices": [...]}}')
    for number, item in enumerate(items, start=1):
        yield number, item if isinstance(item, Mapping) else {}
