"""Stablecoins priced 1:1 with their currency, guarded by a market feed against a depeg.

Quoting USDC at exactly 1 USD is what merchants expect, but only while USDC trades near 1 USD;
when the guard feed moves more than ``max_deviation`` away, quoting stops (``DepegDetected``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from paybridge_connectors.rates.base import DepegDetected, Rate, RateSource, UnknownPair

ONE = Decimal(1)


class PeggedStablecoinRateSource:
    def __init__(
        self,
        pegs: Mapping[str, str],
        guard: RateSource,
        *,
        max_deviation: Decimal = Decimal("0.005"),
    ) -> None:
        """``pegs`` maps asset symbol -> pegged currency, e.g. {"USDC": "USD"}."""
        if max_deviation < 0:
            raise ValueError("max_deviation must be >= 0")
        self._pegs = {asset.upper(): currency.upper() for asset, currency in pegs.items()}
        self._guard = guard
        self._max_deviation = max_deviation

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        asset, cur = asset_symbol.upper(), currency.upper()
        if self._pegs.get(asset) != cur:
            raise UnknownPair(f"{asset} is not pegged to {cur}")
        market = self._guard.get_rate(asset, cur, at)  # stale/invalid guard -> RateUnavailable
        deviation = abs(market.price - ONE)
        if deviation > self._max_deviation:
            raise DepegDetected(
                f"{asset}/{cur} trades at {market.price} ({market.source}), "
                f"{deviation} from the peg, above the allowed {self._max_deviation}"
            )
        return Rate(
            asset_symbol=asset,
            currency=cur,
            price=ONE,
            source=f"pegged:{cur}",
            as_of=market.as_of,
            round_id=market.round_id,
            feed_address=market.feed_address,
        )
