"""Quotes a payer replaced on the portal (another asset or network, or a fresh rate).

The request keeps its deposit address across re-quotes (same xpub child on every EVM chain);
each replaced quote keeps that address watched on its own chain until its own
``monitor_until``, so a transfer sent to the old quote is still recorded against the payment.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paybridge.store.base import Base
from paybridge.store.types import BaseUnits, ExactDecimal, UTCDateTime


class SupersededQuote(Base):
    __tablename__ = "superseded_quotes"
    __table_args__ = (Index("ix_superseded_quotes_watch", "chain_id", "monitor_until"),)

    payment_request_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("payment_requests.id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chain_id: Mapped[int] = mapped_column(Integer)
    asset_symbol: Mapped[str] = mapped_column(String(16))
    asset_address: Mapped[str | None] = mapped_column(String(42))
    asset_decimals: Mapped[int] = mapped_column(Integer)
    deposit_address: Mapped[str] = mapped_column(String(42))
    amount_due: Mapped[int] = mapped_column(BaseUnits)
    rate_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    rate_source: Mapped[str] = mapped_column(String(256))
    quote_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    monitor_until: Mapped[datetime] = mapped_column(UTCDateTime)
    payment_uri: Mapped[str] = mapped_column(Text)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime)
