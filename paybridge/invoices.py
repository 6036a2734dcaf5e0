"""Invoices as PayBridge receives them (ERP sync or import file), validated field by field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

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


def store_invoices(
    session: Session, records: list[InvoiceRecord], source: str, now: datetime | None = None
) -> tuple[list[Invoice], int]:
    """Insert invoices not seen before; returns (new rows, how many were already stored).

    Re-importing the same file is harmless: an invoice is identified by (ERP, company, id).
    """
    existing = rows_by_invoice_key(session, Invoice, [r.key for r in records])
    when = now or datetime.now(UTC)
    fresh = [
        Invoice(
            erp_system=r.erp_system,
            company=r.company,
            invoice_id=r.invoice_id,
            customer_id=r.customer_id,
            amount=r.amount,
            currency=r.currency,
            due_date=r.due_date,
            chain=r.chain,
            asset_symbol=r.asset_symbol,
            customer_email=r.customer_email,
            source=source,
            imported_at=when,
        )
        for r in records
        if r.key not in existing
    ]
    session.add_all(fresh)
    session.flush()
    return fresh, len(records) - len(fresh)


def rows_by_invoice_key(
    session: Session, model: type[Row], keys: Sequence[InvoiceKey], chunk: int = 500
) -> dict[InvoiceKey, Row]:
    """Rows of ``model`` (any table keyed by erp_system, company, invoice_id) for these keys,
    looked up in chunks so the IN list stays small on every database."""
    columns = (model.erp_system, model.company, model.invoice_id)  # type: ignore[attr-defined]
    found: dict[InvoiceKey, Row] = {}
    for start in range(0, len(keys), chunk):
        part = list(keys[start : start + chunk])
        for row in session.scalars(sa.select(model).where(sa.tuple_(*columns).in_(part))):
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
