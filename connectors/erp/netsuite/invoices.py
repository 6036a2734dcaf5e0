"""Open invoices by SuiteQL: the query, its keyset watermark, and row validation.

Order is (lastmodifieddate, id), a unique key, so paging is stable and a watermark of the last
row seen resumes exactly after it; a window is re-opened from that key when a query reaches
SuiteQL's 100,000-row cap. Rows that fail validation are quarantined with a reason, never
dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from connectors.erp.protocol import ErpInvoice, QuarantinedInvoice
from paybridge.domain.money import MoneyError, currency_exponent

ERP_SYSTEM = "netsuite"
TIMESTAMP_FMT = "YYYY-MM-DD HH24:MI:SS"
PY_TIMESTAMP_FMT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, order=True)
class Watermark:
    """Last (lastmodifieddate, id) handed over; serialised as ``'YYYY-MM-DD HH:MM:SS|id'``."""

    last_modified: str
    invoice_id: int

    def encode(self) -> str:
        return f"{self.last_modified}|{self.invoice_id}"

    @classmethod
    def decode(cls, text: str | None) -> Watermark | None:
        if not text:
            return None
        stamp, _sep, ident = text.rpartition("|")
        try:
            datetime.strptime(stamp, PY_TIMESTAMP_FMT)
            return cls(stamp, int(ident))
        except ValueError as exc:
            raise ValueError(f"invalid NetSuite watermark {text!r}: {exc}") from exc


def open_invoices_query(after: Watermark | None, eligibility_filter: str | None) -> str:
    conditions = ["t.type = 'CustInvc'", "t.status = 'A'"]
    if eligibility_filter:
        conditions.append(f"({eligibility_filter})")
    if after is not None:
        stamp = f"TO_TIMESTAMP('{after.last_modified}', '{TIMESTAMP_FMT}')"
        conditions.append(
            f"(t.lastmodifieddate > {stamp} OR (t.lastmodifieddate = {stamp} "
            f"AND t.id > {after.invoice_id}))"
        )
    return (
        "SELECT t.id AS id, t.tranid AS tranid, t.entity AS entity, c.id AS customer_ref, "
        "t.currency AS currency, cur.symbol AS currency_code, tl.subsidiary AS subsidiary, "
        "TO_CHAR(t.duedate, 'YYYY-MM-DD') AS duedate, t.foreigntotal AS total, "
        "t.foreignamountunpaid AS amountremaining, "
        f"TO_CHAR(t.lastmodifieddate, '{TIMESTAMP_FMT}') AS lastmodified "
        "FROM transaction t "
        "INNER JOIN transactionline tl ON tl.transaction = t.id AND tl.mainline = 'T' "
        "LEFT JOIN customer c ON c.id = t.entity "
        "LEFT JOIN currency cur ON cur.id = t.currency "
        f"WHERE {' AND '.join(conditions)} "
        "ORDER BY t.lastmodifieddate, t.id"
    )


def row_watermark(row: dict[str, Any]) -> Watermark:
    return Watermark(row["lastmodified"], int(row["id"]))


@lru_cache(maxsize=4096)
def _timestamp(text: str) -> datetime:
    """'YYYY-MM-DD HH:MM:SS' (UTC) -> aware datetime; cached: a page shares few timestamps."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@lru_cache(maxsize=256)
def _exponent(code: str) -> int:
    return currency_exponent(code)


def _quarantine(row: dict[str, Any], field: str, reason: str) -> QuarantinedInvoice:
    raw = {k: v for k, v in row.items() if k != "links"}
    return QuarantinedInvoice(
        ERP_SYSTEM, row.get("subsidiary"), str(row.get("id")), field, reason, raw
    )


def _decimal(row: dict[str, Any], key: str) -> Decimal | None:
    try:
        value = Decimal(row[key])
    except (KeyError, InvalidOperation):
        return None
    return value if value.is_finite() else None


def validate_row(row: dict[str, Any]) -> ErpInvoice | QuarantinedInvoice:
    """One SuiteQL row -> a validated invoice, or a quarantine entry naming the field."""
    invoice_id = str(row.get("id"))
    if not row.get("entity"):
        return _quarantine(row, "entity", f"invoice {invoice_id} has no customer")
    if not row.get("customer_ref"):
        return _quarantine(
            row, "entity", f"invoice {invoice_id}: customer {row['entity']} is unknown in NetSuite"
        )
    if not row.get("currency"):
        return _quarantine(row, "currency", f"invoice {invoice_id} has no currency")
    code = row.get("currency_code")
    try:
        exponent = _exponent(code or "")
    except MoneyError:
        return _quarantine(
            row,
            "currency",
            f"invoice {invoice_id}: currency {row['currency']} ({code or 'not in currency list'})"
            " is not an ISO 4217 currency PayBridge can invoice in",
        )
    remaining, total = _decimal(row, "amountremaining"), _decimal(row, "total")
    if remaining is None or total is None:
        return _quarantine(row, "amountremaining", f"invoice {invoice_id} has no valid amount")
    if remaining <= 0 or total <= 0:
        return _quarantine(
            row,
            "amountremaining",
            f"invoice {invoice_id}: amount remaining {remaining} / total {total} is not positive",
        )
    quantum = Decimal(1).scaleb(-exponent)
    if remaining != remaining.quantize(quantum) or total != total.quantize(quantum):
        return _quarantine(
            row,
            "amountremaining",
            f"invoice {invoice_id}: amount {remaining} has more decimals than {code} allows",
        )
    if not row.get("subsidiary"):
        return _quarantine(row, "subsidiary", f"invoice {invoice_id} has no subsidiary")
    try:
        due = date.fromisoformat(row["duedate"]) if row.get("duedate") else None
        modified = _timestamp(row["lastmodified"])
    except (ValueError, KeyError) as exc:
        return _quarantine(row, "duedate", f"invoice {invoice_id}: bad date: {exc}")
    return ErpInvoice(
        erp_system=ERP_SYSTEM,
        company=str(row["subsidiary"]),
        invoice_id=invoice_id,
        invoice_number=str(row.get("tranid") or invoice_id),
        customer_id=str(row["entity"]),
        amount=remaining.quantize(quantum),
        total=total.quantize(quantum),
        currency=str(code),
        due_date=due,
        last_modified=modified,
    )
