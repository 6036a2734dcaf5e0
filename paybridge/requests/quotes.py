"""Locked quotes: invoice amount in fiat -> exact base units of the chosen asset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from paybridge_connectors.rates.base import Rate

from paybridge.config import AssetConfig, QuoteConfig
from paybridge.domain.money import MoneyError, fiat_to_base_units


@dataclass(frozen=True)
class Quote:
    amount_due: int
    rate: Rate
    expires_at: datetime
    monitor_until: datetime


def make_quote(
    invoice_amount: Decimal,
    currency: str,
    asset: AssetConfig,
    rate: Rate,
    now: datetime,
    policy: QuoteConfig,
) -> Quote:
    """Round the amount due UP to the next base unit so the merchant is never short."""
    if rate.currency.upper() != currency.upper():
        raise MoneyError(f"rate is in {rate.currency} but the invoice is in {currency}")
    if invoice_amount <= 0:
        raise MoneyError(f"invoice amount must be positive, got {invoice_amount}")
    expires_at = now + timedelta(minutes=policy.lock_minutes)
    return Quote(
        amount_due=fiat_to_base_units(invoice_amount, rate.price, asset.decimals),
        rate=rate,
        expires_at=expires_at,
        monitor_until=expires_at + timedelta(hours=policy.late_window_hours),
    )
