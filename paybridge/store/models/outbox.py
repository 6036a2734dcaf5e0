"""Settlement outbox (what must be posted to an ERP, and how far it got) and the ERP invoice
mirror filled by invoice sync (open invoices, quarantined rows, per-connection watermark)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paybridge.store.base import Base
from paybridge.store.types import ExactDecimal, UTCDateTime

SETTLEMENT_STATUSES = ("pending", "posting", "posted", "failed", "needs_attention")


class SettlementOutboxRow(Base):
    """One settlement to post. ``settlement_id`` is also the ERP idempotency key."""

    __tablename__ = "settlement_outbox"
    __table_args__ = (
        CheckConstraint(
            "status in ('pending','posting','posted','failed','needs_attention')",
            name="status",
        ),
        Index("ix_settlement_outbox_due", "status", "next_attempt_at"),
    )

    settlement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    erp_system: Mapped[str] = mapped_column(String(32))
    connection: Mapped[str] = mapped_column(String(64))
    company: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    payment_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON of the Settlement (with journal)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    erp_payment_id: Mapped[str | None] = mapped_column(String(64))
    erp_journal_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SettlementAttempt(Base):
    """Every posting attempt, kept for the audit trail and for ops to see why one failed."""

    __tablename__ = "settlement_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    settlement_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("settlement_outbox.settlement_id"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)


class ErpOpenInvoice(Base):
    """The ERP's open invoices as last synced (the lead's pipeline turns them into requests)."""

    __tablename__ = "erp_open_invoices"
    __table_args__ = (UniqueConstraint("connection", "company", "invoice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    erp_system: Mapped[str] = mapped_column(String(32))
    company: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[str] = mapped_column(String(128))
    invoice_number: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)  # amount remaining
    total: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date | None] = mapped_column(Date)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the ERP's receivables account of the invoice (its payment posts against it)
    ar_account: Mapped[str | None] = mapped_column(String(64))
    #: base currency of the invoice's company (an exchange rate is needed when it differs)
    base_currency: Mapped[str | None] = mapped_column(String(3))
    #: open, or why it is not any more (paid, voided, closed): read from the ERP at sync
    status: Mapped[str] = mapped_column(String(16), server_default="open", default="open")


class ErpInvoiceQuarantine(Base):
    """Invoices refused at sync, with the reason finance ops read (latest reason per invoice)."""

    __tablename__ = "erp_invoice_quarantine"
    __table_args__ = (UniqueConstraint("connection", "invoice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    erp_system: Mapped[str] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(64))
    invoice_id: Mapped[str] = mapped_column(String(128))
    field: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    quarantined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ErpSyncState(Base):
    """Per connection: where the last invoice sync stopped."""

    __tablename__ = "erp_sync_state"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    erp_system: Mapped[str] = mapped_column(String(32))
    watermark: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
