"""Rate sources behind one protocol: fixed, pegged stablecoin (depeg-guarded), Chainlink."""

from connectors.rates.base import (
    DepegDetected,
    InvalidAnswer,
    Rate,
    RateSource,
    RateUnavailable,
    StaleRate,
    UnknownPair,
)
from connectors.rates.chainlink import ChainlinkFeed, ChainlinkRateSource
from connectors.rates.fixed import FixedRateSource
from connectors.rates.pegged import PeggedStablecoinRateSource

__all__ = [
    "ChainlinkFeed",
    "ChainlinkRateSource",
    "DepegDetected",
    "FixedRateSource",
    "InvalidAnswer",
    "PeggedStablecoinRateSource",
    "Rate",
    "RateSource",
    "RateUnavailable",
    "StaleRate",
    "UnknownPair",
]
