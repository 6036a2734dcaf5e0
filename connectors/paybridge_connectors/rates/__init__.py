"""Rate sources behind one protocol: fixed, pegged stablecoin (depeg-guarded), Chainlink."""

from paybridge_connectors.rates.base import (
    DepegDetected,
    InvalidAnswer,
    Rate,
    RateSource,
    RateUnavailable,
    StaleRate,
    UnknownPair,
)
from paybridge_connectors.rates.chainlink import ChainlinkFeed, ChainlinkRateSource
from paybridge_connectors.rates.fixed import FixedRateSource
from paybridge_connectors.rates.pegged import PeggedStablecoinRateSource

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
