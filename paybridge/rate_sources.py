"""Build the rate source of one chain from the asset registry (fixed / pegged / Chainlink).

Web3 connections are made lazily, so a chain whose assets all use fixed rates (tests, the
demo) never touches an RPC endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from paybridge_connectors.rates.base import Rate, RateSource, UnknownPair
from paybridge_connectors.rates.chainlink import ChainlinkFeed, ChainlinkRateSource
from paybridge_connectors.rates.fixed import FixedRateSource
from paybridge_connectors.rates.pegged import PeggedStablecoinRateSource
from web3 import Web3

from paybridge.config import AssetConfig, ChainConfig, PayBridgeConfig


def _http_web3(chain: ChainConfig) -> Web3:
    return Web3(Web3.HTTPProvider(chain.rpc_url, request_kwargs={"timeout": 10}))


class ChainRates:
    """A ``RateSource`` for every asset configured on one chain, each from its own source."""

    def __init__(
        self,
        config: PayBridgeConfig,
        chain: str | int,
        web3_for: Callable[[ChainConfig], Web3] = _http_web3,
    ) -> None:
        self._chain = config.chain(chain)
        self._assets = {a.symbol.upper(): a for a in config.assets_on(self._chain.name)}
        self._web3_for = web3_for
        self._sources: dict[str, RateSource] = {}

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        asset = self._assets.get(asset_symbol.upper())
        if asset is None:
            raise UnknownPair(f"{asset_symbol} is not configured on {self._chain.name}")
        if asset.rate.currency.upper() != currency.upper():
            raise UnknownPair(
                f"{asset.symbol} on {self._chain.name} is priced in {asset.rate.currency}, "
                f"not {currency}"
            )
        source = self._sources.get(asset.symbol.upper())
        if source is None:
            source = self._sources[asset.symbol.upper()] = self._build(asset)
        return source.get_rate(asset.symbol, currency, at)

    def _build(self, asset: AssetConfig) -> RateSource:
        rate = asset.rate
        pair = (asset.symbol, rate.currency)
        if rate.source == "fixed":
            assert rate.price is not None  # validated by RateConfig
            return FixedRateSource({pair: rate.price})
        feed_source = None
        if rate.feed is not None and rate.heartbeat_seconds is not None:
            feed = ChainlinkFeed(rate.feed, timedelta(seconds=rate.heartbeat_seconds))
            feed_source = ChainlinkRateSource(
                self._web3_for(self._chain), self._chain.chain_id, {pair: feed}
            )
        if rate.source == "chainlink":
            assert feed_source is not None  # validated by RateConfig
            return feed_source
        if feed_source is None:
            raise UnknownPair(
                f"pegged asset {asset.symbol} on {self._chain.name} needs a guard 'feed' "
                "so a depeg can be detected"
            )
        return PeggedStablecoinRateSource(
            {asset.symbol: rate.currency}, feed_source, max_deviation=rate.max_depeg
        )
