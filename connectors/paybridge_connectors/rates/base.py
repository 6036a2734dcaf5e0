"""One protocol for every rate source: quotes and reconciliation never care where rates come from.

A ``Rate`` is fiat per ONE whole token, as an exact ``Decimal``; it carries enough provenance
(source, feed address, round id, updatedAt) for an auditor to re-read it on chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Rate:
    asset_symbol: str
    currency: str
    price: Decimal
    source: str
    as_of: datetime
    round_id: int | None = None
    feed_address: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.price, Decimal) or not self.price.is_finite():
            raise TypeError(f"rate price must be a finite Decimal, got {self.price!r}")
        if self.price <= 0:
            raise ValueError(f"rate price must be positive, got {self.price}")
        if self.as_of.tzinfo is None:
            raise ValueError("rate as_of must be timezone-aware UTC")


@runtime_checkable
class RateSource(Protocol):
    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        """Price of one whole ``asset_symbol`` in ``currency``, now or as of ``at``."""
        ...


class RateUnavailable(Exception):
    """No trustworthy rate: callers must not quote (or must flag the reconciliation)."""


class UnknownPair(RateUnavailable):
    """The source has no feed for this asset/currency pair."""


class StaleRate(RateUnavailable):
    """The feed's last update is older than its heartbeat allows."""


class InvalidAnswer(RateUnavailable):
    """The feed answered something unusable (<= 0, incomplete round, from the future)."""


class DepegDetected(RateUnavailable):
    """A stablecoin's market price left its peg by more than the allowed threshold."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; rates work in timezone-aware UTC only")
    return moment.astimezone(UTC)
