"""Invoices as PayBridge receives them (ERP sync or import file), validated field by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.models import Invoice


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
    def key(self) -> tuple[str, str, str]:
        return (self.erp_system, self.company, self.invoice_id)


def store_invoices(
    session: Session, records: list[InvoiceRecord], source: str, now: datetime | None = None
) -> tuple[list[Invoice], int]:
    """Insert invoices not seen before; returns (new rows, how many were already stored).

    Re-importing the same file is harmless: an invoice is identified by (ERP, company, id).
    """
    existing = existing_keys(session, [r.key for r in records])
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


def existing_keys(
    session: Session, keys: list[tuple[str, str, str]], model: type = Invoice, chunk: int = 500
) -> set[tuple[str, str, str]]:
    """Which of these (erp_system, company, invoice_id) keys already have a row of ``model``."""
    found: set[tuple[str, str, str]] = set()
    columns = (model.erp_system, model.company, model.invoice_id)  # type: ignore[attr-defined]
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        rows = session.execute(sa.select(*columns).where(sa.tuple_(*columns).in_(part)))
        found.update((r[0], r[1], r[2]) for r in rows)
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
