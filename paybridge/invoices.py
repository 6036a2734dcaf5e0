"""Invoices as PayBridge receives them (ERP sync or import file), validated field by field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.db import dialect_insert
from paybridge.store.models import Invoice

InvoiceKey = tuple[str, str, str]  # (erp_system, company, invoice_id)
Row = TypeVar("Row")


@dataclass(frozen=True)
class InvoiceRecord:
    erp_system: str
    company: str
    invoice_id: str
    customer_id: str
    amount: Decimal
    currency: str
    due_date: date | None
    chain: str
    asset_symbol: str
    customer_email: str | None = None

    @property
    def key(self) -> InvoiceKey:
        return (self.erp_system, self.company, self.invoice_id)


def column_lengths() -> dict[str, int]:
    """Longest text each invoice column holds (PostgreSQL enforces it; SQLite does not), so
    input is measured against the store before anything is written."""
    return {
        column.name: column.type.length
        for column in Invoice.__table__.columns
        if isinstance(column.type, sa.String) and column.type.length
    }


def source_label(source: str) -> str:
    """``source`` as the store can hold it: printable, and its tail when it is too long
    (a deep path keeps its file name)."""
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in source)
    limit = column_lengths()["source"]
    return shown if len(shown) <= limit else "..." + shown[-(limit - 3) :]


def store_invoices(
    session: Session, records: list[InvoiceRecord], source: str, now: datetime | None = None
) -> tuple[list[Invoice], int]:
    """Insert invoices not seen before; returns (new rows, how many were already stored).

    Re-importing the same file is harmless: an invoice is identified by (ERP, company, id).
    Rows are inserted with ON CONFLICT DO NOTHING, so two imports of the same file at once
    end with one copy (the second waits for the first and finds its rows), not an error.
    """
    existing = rows_by_invoice_key(session, Invoice, [r.key for r in records])
    when = now or datetime.now(UTC)
    label = source_label(source)
    todo = [r for r in records if r.key not in existing]
    ids: list[int] = []
    for start in range(0, len(todo), _INSERT_CHUNK):
        values = [_row(r, label, when) for r in todo[start : start + _INSERT_CHUNK]]
        ids.extend(session.scalars(_insert_ignoring_known(session, values)))
    fresh: list[Invoice] = []
    for start in range(0, len(ids), _INSERT_CHUNK):
        part = ids[start : start + _INSERT_CHUNK]
        fresh.extend(session.scalars(sa.select(Invoice).where(Invoice.id.in_(part))))
    fresh.sort(key=lambda row: row.id)
    return fresh, len(records) - len(fresh)


_INSERT_CHUNK = 500


def _row(record: InvoiceRecord, source: str, when: datetime) -> dict[str, object]:
    return {
        "erp_system": record.erp_system,
        "company": record.company,
        "invoice_id": record.invoice_id,
        "customer_id": record.customer_id,
        "amount": record.amount,
        "currency": record.currency,
        "due_date": record.due_date,
        "chain": record.chain,
        "asset_symbol": record.asset_symbol,
        "customer_email": record.customer_email,
        "source": source,
        "imported_at": when,
    }


def _insert_ignoring_known(session: Session, values: list[dict[str, object]]) -> sa.Executable:
    keys = ("erp_system", "company", "invoice_id")
    return (
        dialect_insert(session)(Invoice)
        .values(values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(Invoice.id)
    )


def rows_by_invoice_key(
    session: Session, model: type[Row], keys: Sequence[InvoiceKey], chunk: int = 500
) -> dict[InvoiceKey, Row]:
    """Rows of ``model`` (any table keyed by erp_system, company, invoice_id) for these keys,
    looked up per ERP system and company with the invoice ids in chunks, so the IN list stays
    small on every database (one bound value per key, not three: PostgreSQL's driver parses
    each placeholder of each statement)."""
    erp_system, company, invoice_id = (
        model.erp_system,  # type: ignore[attr-defined]
        model.company,  # type: ignore[attr-defined]
        model.invoice_id,  # type: ignore[attr-defined]
    )
    by_scope: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        by_scope.setdefault((key[0], key[1]), []).append(key[2])
    found: dict[InvoiceKey, Row] = {}
    for (system, code), ids in by_scope.items():
        for start in range(0, len(ids), chunk):
            query = sa.select(model).where(
                erp_system == system, company == code, invoice_id.in_(ids[start : start + chunk])
            )
            for row in session.scalars(query):
                found[(row.erp_system, row.company, row.invoice_id)] = row  # type: ignore[attr-defined]
    return found


def to_record(invoice: Invoice) -> InvoiceRecord:
    return InvoiceRecord(
        erp_system=invoice.erp_system,
        company=invoice.company,
        invoice_id=invoice.invoice_id,
        customer_id=invoice.customer_id,
        amount=invoice.amount,
        currency=invoice.currency,
        due_date=invoice.due_date,
        chain=invoice.chain,
        asset_symbol=invoice.asset_symbol,
        customer_email=invoice.customer_email,
    )
