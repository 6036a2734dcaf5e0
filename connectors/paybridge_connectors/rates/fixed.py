"""Fixed rates from configuration: tests, demos, and merchants who set their own price."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from paybridge_connectors.rates.base import Rate, UnknownPair, as_utc, utc_now


class FixedRateSource:
    def __init__(
        self,
        prices: Mapping[tuple[str, str], Decimal | str | int],
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._prices: dict[tuple[str, str], Decimal] = {}
        for (asset, currency), price in prices.items():
            if isinstance(price, float):
                raise TypeError(
                    f"fixed rate {asset}/{currency}: give a Decimal or string, not float"
                )
            self._prices[(asset.upper(), currency.upper())] = Decimal(price)
        self._clock = clock

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        key = (asset_symbol.upper(), currency.upper())
        if key not in self._prices:
            raise UnknownPair(f"no fixed rate for {key[0]}/{key[1]}")
        return Rate(
            asset_symbol=key[0],
            currency=key[1],
            price=self._prices[key],
            source="fixed",
            as_of=as_utc(at) if at is not None else self._clock(),
        )
