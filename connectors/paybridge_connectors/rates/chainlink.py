"""Chainlink AggregatorV3 price feeds read with web3.py.

Follows Chainlink's own guidance: check ``updatedAt`` against the feed's heartbeat (each feed has
its own: ETH/USD 1 h, USDC/USD 24 h on mainnet), refuse ``answer <= 0`` and incomplete rounds.

Historical rates (``at=``): the latest round is read and, when it was updated after ``at``,
``getRoundData`` walks back one round at a time to the last round updated at or before ``at``.
Round ids on real proxies are ``(phaseId << 64) | aggregatorRoundId``; the walk stops at a phase
boundary (aggregator round 0) and after ``max_walk`` rounds, raising ``RateUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from paybridge_connectors.rates.base import (
    InvalidAnswer,
    Rate,
    RateUnavailable,
    StaleRate,
    UnknownPair,
    as_utc,
    utc_now,
)

AGGREGATOR_V3_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
    *[
        {
            "type": "function",
            "name": name,
            "stateMutability": "view",
            "inputs": inputs,
            "outputs": [
                {"name": "roundId", "type": "uint80"},
                {"name": "answer", "type": "int256"},
                {"name": "startedAt", "type": "uint256"},
                {"name": "updatedAt", "type": "uint256"},
                {"name": "answeredInRound", "type": "uint80"},
            ],
        }
        for name, inputs in (
            ("latestRoundData", []),
            ("getRoundData", [{"name": "_roundId", "type": "uint80"}]),
        )
    ],
]

AGGREGATOR_ROUND_MASK = (1 << 64) - 1
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ChainlinkFeed:
    address: str
    heartbeat: timedelta


@dataclass(frozen=True)
class _Round:
    round_id: int
    answer: int
    updated_at: int


class ChainlinkRateSource:
    def __init__(
        self,
        w3: Web3,
        chain_id: int,
        feeds: Mapping[tuple[str, str], ChainlinkFeed],
        *,
        clock: Callable[[], datetime] = utc_now,
        max_walk: int = 1000,
    ) -> None:
        self._w3 = w3
        self._chain_id = chain_id
        self._feeds = {(a.upper(), c.upper()): feed for (a, c), feed in feeds.items()}
        self._clock = clock
        self._max_walk = max_walk
        self._decimals: dict[str, int] = {}

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        key = (asset_symbol.upper(), currency.upper())
        feed = self._feeds.get(key)
        if feed is None:
            raise UnknownPair(f"no Chainlink feed configured for {key[0]}/{key[1]}")
        address = Web3.to_checksum_address(feed.address)
        label = f"{key[0]}/{key[1]} feed {address} on chain {self._chain_id}"
        contract = self._w3.eth.contract(address=address, abi=AGGREGATOR_V3_ABI)
        try:
            decimals = self._feed_decimals(contract, address)
            latest = self._round(contract.functions.latestRoundData().call())
            moment = as_utc(at) if at is not None else self._clock()
            chosen = latest if at is None else self._round_at(contract, latest, moment, label)
        except (ContractLogicError, Web3Exception, OSError) as exc:
            raise RateUnavailable(f"{label}: read failed: {exc}") from exc
        if chosen.updated_at == 0:
            raise InvalidAnswer(f"{label}: round {chosen.round_id} is incomplete (updatedAt 0)")
        if chosen.answer <= 0:
            raise InvalidAnswer(f"{label}: answer {chosen.answer} <= 0 in round {chosen.round_id}")
        updated = datetime.fromtimestamp(chosen.updated_at, UTC)
        if updated > moment + CLOCK_SKEW:
            raise InvalidAnswer(f"{label}: updatedAt {updated.isoformat()} is in the future")
        if moment - updated > feed.heartbeat:
            raise StaleRate(
                f"{label}: last update {updated.isoformat()} is older than the heartbeat "
                f"{feed.heartbeat} at {moment.isoformat()}"
            )
        return Rate(
            asset_symbol=key[0],
            currency=key[1],
            price=Decimal(chosen.answer).scaleb(-decimals),
            source=f"chainlink:{self._chain_id}:{address}",
            as_of=updated,
            round_id=chosen.round_id,
            feed_address=address,
        )

    def _feed_decimals(self, contract: Any, address: str) -> int:
        if address not in self._decimals:
            self._decimals[address] = int(contract.functions.decimals().call())
        return self._decimals[address]

    @staticmethod
    def _round(data: Any) -> _Round:
        round_id, answer, _started_at, updated_at, _answered_in = data
        return _Round(round_id=int(round_id), answer=int(answer), updated_at=int(updated_at))

    def _round_at(self, contract: Any, latest: _Round, at: datetime, label: str) -> _Round:
        """Last round updated at or before ``at`` (walks back from the latest round)."""
        target = int(at.timestamp())
        current = latest
        for _ in range(self._max_walk):
            if 0 < current.updated_at <= target:
                return current
            previous = current.round_id - 1
            if previous & AGGREGATOR_ROUND_MASK == 0:
                break
            try:
                current = self._round(contract.functions.getRoundData(previous).call())
            except ContractLogicError as exc:
                raise RateUnavailable(
                    f"{label}: no round at or before {at.isoformat()} (round {previous}: {exc})"
                ) from exc
        raise RateUnavailable(
            f"{label}: no round at or before {at.isoformat()} within {self._max_walk} rounds"
        )
