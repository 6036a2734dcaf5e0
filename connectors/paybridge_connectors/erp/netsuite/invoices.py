"""Invoices by SuiteQL: the query, its watermark, and row validation.

Order is (lastmodifieddate, id), a unique key, so paging is stable; within one sync a window
is re-opened exactly after the last key when a query reaches SuiteQL's 100,000-row cap.

A sync that resumes from a stored watermark re-reads an overlap (``sync_overlap_s``, 15
minutes by default) before it, because NetSuite stamps ``lastmodifieddate`` when a save starts,
so a row committed late can carry a time older than rows already read; re-reading is harmless
(rows are upserted by id). It also reads invoices that are no longer open, so that an invoice
paid outside PayBridge, voided or credited is noticed (``ClosedInvoice``).

Time zone: SuiteQL's ``TO_CHAR`` and ``TO_TIMESTAMP`` work in the time zone of the integration
user's preference (``time_zone`` of the connection); the watermark is kept in UTC and turned
into that zone's wall time for the filter. In the hour repeated when daylight saving ends, a
wall time names two instants: the filter then starts early enough that both readings are
covered, and a row's wall time is read as the earlier instant (never skipping anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from paybridge.domain.money import MoneyError, currency_exponent
from paybridge_connectors.erp.protocol import ClosedInvoice, ErpInvoice, QuarantinedInvoice

ERP_SYSTEM = "netsuite"
TIMESTAMP_FMT = "YYYY-MM-DD HH24:MI:SS"
PY_TIMESTAMP_FMT = "%Y-%m-%d %H:%M:%S"


#: NetSuite invoice status letters (SuiteQL ``transaction.status`` of ``CustInvc``)
UTC_ZONE = ZoneInfo("UTC")
OPEN_STATUS = "A"
CLOSED_STATUSES = {"B": ("paid", "Paid In Full"), "V": ("voided", "Voided")}


@dataclass(frozen=True, order=True)
class Watermark:
    """Last (lastmodifieddate in UTC, id) handed over; serialised ``'YYYY-MM-DD HH:MM:SS|id'``."""

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


def wall_time_filter(instant: datetime, zone: ZoneInfo) -> str:
    """The wall time in ``zone`` to filter ``>=`` on so that nothing at or after ``instant``
    is missed whichever instant NetSuite reads an ambiguous wall time as."""
    candidate = instant
    while True:
        wall = candidate.astimezone(zone).replace(tzinfo=None)
        readings = [wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)]
        if max(readings) <= instant:
            return wall.strftime(PY_TIMESTAMP_FMT)
        candidate -= timedelta(hours=1)


def utc_of_wall_time(text: str, zone: ZoneInfo) -> datetime:
    """A row's wall time (TO_CHAR in ``zone``) as UTC; in a repeated hour, the earlier one."""
    wall = datetime.strptime(text, PY_TIMESTAMP_FMT)
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def invoices_query(
    after: Watermark | None,
    eligibility_filter: str | None,
    zone: ZoneInfo,
    *,
    overlap: timedelta | None = None,
) -> str:
    """Invoices modified after ``after``; with ``overlap`` (a sync resuming from a stored
    watermark) from that much before it instead, and closed ones too. Without ``after`` (a
    full sync): open invoices only."""
    conditions = ["t.type = 'CustInvc'"]
    if after is None:
        conditions.append(f"t.status = '{OPEN_STATUS}'")
    if eligibility_filter:
        conditions.append(f"({eligibility_filter})")
    if after is not None:
        since = datetime.strptime(after.last_modified, PY_TIMESTAMP_FMT).replace(tzinfo=UTC)
        if overlap is not None:
            stamp = f"TO_TIMESTAMP('{wall_time_filter(since - overlap, zone)}', '{TIMESTAMP_FMT}')"
            conditions.append(f"t.lastmodifieddate >= {stamp}")
        else:  # continuing one sync: exactly after the last key (and its repeated hour)
            stamp = f"TO_TIMESTAMP('{wall_time_filter(since, zone)}', '{TIMESTAMP_FMT}')"
            conditions.append(
                f"(t.lastmodifieddate > {stamp} OR (t.lastmodifieddate = {stamp} "
                f"AND t.id > {after.invoice_id}))"
            )
    return (
        "SELECT t.id AS id, t.tranid AS tranid, t.entity AS entity, c.id AS customer_ref, "
        "t.status AS status, "
        "t.currency AS currency, cur.symbol AS currency_code, tl.subsidiary AS subsidiary, "
        "tal.account AS aracct, bcur.symbol AS base_currency, "
        "TO_CHAR(t.duedate, 'YYYY-MM-DD') AS duedate, t.foreigntotal AS total, "
        "t.foreignamountunpaid AS amountremaining, "
        f"TO_CHAR(t.lastmodifieddate, '{TIMESTAMP_FMT}') AS lastmodified "
        "FROM transaction t "
        "INNER JOIN transactionline tl ON tl.transaction = t.id AND tl.mainline = 'T' "
        # the invoice's A/R posting is its main line's (line id 0) accounting line
        "LEFT JOIN transactionaccountingline tal ON tal.transaction = t.id "
        "AND tal.transactionline = 0 "
        "LEFT JOIN customer c ON c.id = t.entity "
        "LEFT JOIN currency cur ON cur.id = t.currency "
        "LEFT JOIN subsidiary s ON s.id = tl.subsidiary "
        "LEFT JOIN currency bcur ON bcur.id = s.currency "
        f"WHERE {' AND '.join(conditions)} "
        "ORDER BY t.lastmodifieddate, t.id"
    )


def row_watermark(row: dict[str, Any], zone: ZoneInfo) -> Watermark:
    stamp = utc_of_wall_time(row["lastmodified"], zone).strftime(PY_TIMESTAMP_FMT)
    return Watermark(stamp, int(row["id"]))


def closed_invoice(row: dict[str, Any], zone: ZoneInfo) -> ClosedInvoice | None:
    """The row of an invoice that is no longer open, else None."""
    status = str(row.get("status") or OPEN_STATUS)
    if status == OPEN_STATUS:
        return None
    kind, label = CLOSED_STATUSES.get(status, ("closed", f"status {status}"))
    return ClosedInvoice(
        ERP_SYSTEM,
        str(row.get("subsidiary") or ""),
        str(row.get("id")),
        kind,
        f"NetSuite invoice {row.get('tranid') or row.get('id')} is {label}",
        utc_of_wall_time(row["lastmodified"], zone),
    )


@lru_cache(maxsize=4096)
def _timestamp(text: str, zone: ZoneInfo) -> datetime:
    """Wall time in ``zone`` -> aware UTC datetime; cached: a page shares few timestamps."""
    return utc_of_wall_time(text, zone)


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


def validate_row(row: dict[str, Any], zone: ZoneInfo = UTC_ZONE) -> ErpInvoice | QuarantinedInvoice:
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
        modified = _timestamp(row["lastmodified"], zone)
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
        ar_account=str(row["aracct"]) if row.get("aracct") else None,
        base_currency=str(row["base_currency"]) if row.get("base_currency") else None,
    )
