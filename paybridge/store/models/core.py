"""Core tables: invoices, payment requests, address allocation, the audit log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paybridge.store.base import Base
from paybridge.store.types import BaseUnits, ExactDecimal, UTCDateTime


class Invoice(Base):
    """An open receivable as the ERP (or an import file) gave it to us."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("erp_system", "company", "invoice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    erp_system: Mapped[str] = mapped_column(String(32))
    company: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date | None] = mapped_column(Date)
    chain: Mapped[str] = mapped_column(String(32))
    asset_symbol: Mapped[str] = mapped_column(String(16))
    customer_email: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(256))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentRequest(Base):
    """What a payer is asked to send: address, asset, exact base units, until when."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        UniqueConstraint("erp_system", "company", "invoice_id"),
        UniqueConstraint("xpub_fingerprint", "derivation_index"),
        UniqueConstraint("deposit_address"),
        Index("ix_payment_requests_status", "status"),
        Index("ix_payment_requests_monitor_until", "monitor_until"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    erp_system: Mapped[str] = mapped_column(String(32))
    company: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str] = mapped_column(String(128))
    invoice_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(String(16))  # ISO 4217, or the asset itself (API orders)
    due_date: Mapped[date | None] = mapped_column(Date)

    chain_id: Mapped[int] = mapped_column(Integer)
    asset_symbol: Mapped[str] = mapped_column(String(16))
    asset_address: Mapped[str | None] = mapped_column(String(42))
    asset_decimals: Mapped[int] = mapped_column(Integer)

    xpub_fingerprint: Mapped[str] = mapped_column(String(64))
    derivation_index: Mapped[int] = mapped_column(Integer)
    deposit_address: Mapped[str] = mapped_column(String(42))

    amount_due: Mapped[int] = mapped_column(BaseUnits)
    rate_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    rate_source: Mapped[str] = mapped_column(String(256))
    rate_as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    rate_round_id: Mapped[str | None] = mapped_column(String(40))
    quote_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    monitor_until: Mapped[datetime] = mapped_column(UTCDateTime)
    payment_uri: Mapped[str] = mapped_column(Text)

    status: Mapped[str] = mapped_column(String(16))
    paid_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_over: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_late: Mapped[bool] = mapped_column(Boolean, default=False)
    marked: Mapped[bool] = mapped_column(Boolean, default=False)
    amount_received: Mapped[int] = mapped_column(BaseUnits, default=0)
    amount_confirmed: Mapped[int] = mapped_column(BaseUnits, default=0)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DerivationCounter(Base):
    """Next free child index per xpub; bumped atomically so workers never share an address."""

    __tablename__ = "derivation_counters"

    xpub_fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_index: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """One state change. Each row's hash commits to the previous row's hash.

    ``key_id`` names the audit key whose HMAC-SHA256 the hash is; NULL only for entries
    written before keyed hashing (plain SHA-256), which must precede every keyed entry.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))


class AuditHead(Base):
    """Single row holding the chain's tip; updating it first serialises concurrent appenders."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


__all__ = [
    "AuditEntry",
    "AuditHead",
    "DerivationCounter",
    "Invoice",
    "PaymentRequest",
]
