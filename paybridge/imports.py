"""Read invoices from CSV or JSON files, keeping every valid record and explaining every other.

This is the one place an invoice file is judged. The file as a whole goes through
:mod:`paybridge.input_files` (regular file, size, UTF-8, JSON depth); a file that fails there,
or whose header lacks a required column, raises :class:`ImportFileError`. Each record is then
checked field by field with :mod:`paybridge.input_fields` against the store's column lengths,
and a rejected record is reported with its line (CSV: the file line where the record starts;
JSON: the record number), its invoice id when it has a readable one, the field and what is
wrong. Duplicated ids inside one file are all rejected: PayBridge cannot know which of them
the ERP meant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.domain.money import MoneyError, currency_exponent, parse_fiat
from paybridge.input_fields import FieldProblem, iso_date, plain_decimal, text
from paybridge.input_files import InputFileError, JsonObject, csv_rows, parse_json, read_text
from paybridge.invoices import InvoiceKey, InvoiceRecord, column_lengths

REQUIRED = ("invoice_id", "customer_id", "amount", "currency", "chain", "asset")
OPTIONAL = ("erp_system", "company", "due_date", "customer_email")
DEFAULTS = {"erp_system": "import", "company": "default"}
#: Input field -> store column whose length bounds it.
_COLUMN = {"asset": "asset_symbol"}
#: Key under which a record that is not shaped like one carries why (no file key can equal it).
_SHAPE = object()


@dataclass(frozen=True)
class Rejection:
    line: int
    invoice_id: str | None
    field: str
    message: str
    unit: str = "line"  # "record" for JSON files

    def __str__(self) -> str:
        ident = f" (invoice {self.invoice_id})" if self.invoice_id else ""
        return f"{self.unit} {self.line}{ident}: {self.field}: {self.message}"


@dataclass(frozen=True)
class ParsedFile:
    records: list[InvoiceRecord]
    rejections: list[Rejection]


class ImportFileError(InputFileError):
    """The file as a whole cannot be read (missing, directory, encoding, size, format, header)."""


def read_invoice_file(path: Path, config: PayBridgeConfig) -> ParsedFile:
    """Every valid record of the file, and a :class:`Rejection` for every other one."""
    unit, raw = _raw_records(path)
    counts = Counter(key for _, row in raw if (key := _key(row)) is not None)
    records: list[InvoiceRecord] = []
    rejections: list[Rejection] = []
    for line, row in raw:
        key = _key(row)
        shown_id = key[2] if key and key[2] else None
        if key is not None and key[2] and counts[key] > 1:
            message = f"appears {counts[key]} times in this file; fix the file and re-import"
            rejections.append(Rejection(line, shown_id, "invoice_id", message, unit))
            continue
        try:
            records.append(_validate(row, config))
        except _FieldError as err:
            rejections.append(Rejection(line, shown_id, err.field, err.message, unit))
    return ParsedFile(records, rejections)


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@cache
def _limits() -> dict[str, int]:
    lengths = column_lengths()
    return {
        f: lengths[_COLUMN.get(f, f)]
        for f in (*REQUIRED, *OPTIONAL)
        if f not in ("amount", "due_date")
    }


def _field(row: Mapping[str, Any], field: str) -> str:
    try:
        return text(row.get(field), _limits()[field])
    except FieldProblem as exc:
        raise _FieldError(field, str(exc)) from None


def _key(row: Mapping[str, Any]) -> InvoiceKey | None:
    """The record's (ERP, company, id) when all three are readable, for duplicate counting."""
    try:
        return (
            _field(row, "erp_system") or DEFAULTS["erp_system"],
            _field(row, "company") or DEFAULTS["company"],
            _field(row, "invoice_id"),
        )
    except _FieldError:
        return None


def _validate(row: Mapping[str, Any], config: PayBridgeConfig) -> InvoiceRecord:
    duplicates = getattr(row, "duplicates", ())
    if duplicates:
        raise _FieldError(duplicates[0], "given more than once in this record")
    if row.get(_SHAPE):
        raise _FieldError("record", str(row[_SHAPE]))
    values = {f: _field(row, f) for f in (*REQUIRED, *OPTIONAL) if f not in ("amount", "due_date")}
    for field in REQUIRED:
        if field != "amount" and not values[field]:
            raise _FieldError(field, "missing")
    raw_amount = row.get("amount")
    if raw_amount is None or (isinstance(raw_amount, str) and not raw_amount.strip()):
        raise _FieldError("amount", "missing")
    try:
        amount_text = plain_decimal(raw_amount)
    except FieldProblem as exc:
        raise _FieldError("amount", str(exc)) from None
    currency = values["currency"]
    try:
        currency_exponent(currency)
    except MoneyError as exc:
        raise _FieldError("currency", str(exc)) from exc
    try:
        amount = parse_fiat(amount_text, currency)
    except MoneyError as exc:
        raise _FieldError("amount", str(exc)) from exc
    if amount <= 0:
        raise _FieldError("amount", f"must be positive, got {amount}")
    try:
        asset = config.asset(values["chain"], values["asset"])
    except ConfigError as exc:
        field = "chain" if "unknown chain" in str(exc) else "asset"
        raise _FieldError(field, str(exc)) from exc
    if asset.rate.currency != currency:
        raise _FieldError(
            "currency", f"{asset.symbol} on {asset.chain} is priced in {asset.rate.currency}"
        )
    try:
        due = iso_date(row.get("due_date"))
    except FieldProblem as exc:
        raise _FieldError("due_date", str(exc)) from None
    return InvoiceRecord(
        erp_system=values["erp_system"] or DEFAULTS["erp_system"],
        company=values["company"] or DEFAULTS["company"],
        invoice_id=values["invoice_id"],
        customer_id=values["customer_id"],
        amount=amount,
        currency=currency,
        due_date=due,
        chain=asset.chain,
        asset_symbol=asset.symbol,
        customer_email=values["customer_email"] or None,
    )


Raw = list[tuple[int, Mapping[str, Any]]]


def _raw_records(path: Path) -> tuple[str, Raw]:
    suffix = path.suffix.lower()
    try:
        content = read_text(path)
        if suffix not in (".csv", ".json"):
            raise ImportFileError(f"{path}: unsupported file type {suffix!r}; use .csv or .json")
        if suffix == ".csv":
            return "line", _csv_records(content, path)
        return "record", _json_records(content, path)
    except ImportFileError:
        raise
    except InputFileError as exc:
        raise ImportFileError(str(exc)) from None


def _csv_records(content: str, path: Path) -> Raw:
    rows = csv_rows(content, path)
    if not rows:
        raise ImportFileError(f"{path}: empty file; expected a header line")
    header = [name.strip() for name in rows[0][1]]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ImportFileError(f"{path}: column(s) {', '.join(repeated)} appear more than once")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(f"{path}: missing column(s) {', '.join(missing)}")
    records: Raw = []
    for line, fields in rows[1:]:
        row: dict[Any, Any] = dict(zip(header, fields, strict=False))
        if len(fields) > len(header):
            row[_SHAPE] = f"{len(fields)} fields, the header has {len(header)}"
        records.append((line, row))
    return records


def _json_records(content: str, path: Path) -> Raw:
    data = parse_json(content, path)
    if isinstance(data, JsonObject) and data.duplicates:
        raise ImportFileError(f"{path}: key(s) {', '.join(data.duplicates)} appear more than once")
    items = data.get("invoices") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ImportFileError(f'{path}: expected a list of invoices or {{"invoices": [...]}}')
    records: Raw = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, Mapping):
            records.append((number, item))
        else:
            records.append((number, {_SHAPE: "not a JSON object with invoice fields"}))
    return records
