"""Rate sources against real price-feed contracts on anvil (no mocked web3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from paybridge_connectors.rates import (
    ChainlinkFeed,
    ChainlinkRateSource,
    DepegDetected,
    FixedRateSource,
    InvalidAnswer,
    PeggedStablecoinRateSource,
    RateSource,
    RateUnavailable,
    StaleRate,
    UnknownPair,
)
from web3 import Web3
from web3.contract import Contract

from paybridge.devchain import deploy, wait_receipt

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T0 = int(NOW.timestamp())


def _feed(w3: Web3, decimals: int, answer: int, description: str) -> Contract:
    return deploy(w3, "MockV3Aggregator", decimals, answer, description)


def _set_round(w3: Web3, feed: Contract, round_id: int, answer: int, updated_at: int) -> None:
    tx = feed.functions.updateRoundData(round_id, answer, updated_at).transact(
        {"from": w3.eth.accounts[0]}
    )
    wait_receipt(w3, tx)


def _source(w3: Web3, feed: Contract, heartbeat: timedelta = timedelta(hours=1)) -> RateSource:
    return ChainlinkRateSource(
        w3,
        31337,
        {("ETH", "USD"): ChainlinkFeed(feed.address, heartbeat)},
        clock=lambda: NOW,
    )


def test_fixed_rate_source_is_exact_and_refuses_floats_and_unknown_pairs() -> None:
    source = FixedRateSource({("usdc", "usd"): "1", ("ETH", "EUR"): Decimal("2712.345678")})
    rate = source.get_rate("ETH", "EUR", at=NOW)
    assert rate.price == Decimal("2712.345678")
    assert (rate.source, rate.as_of, rate.currency) == ("fixed", NOW, "EUR")
    assert source.get_rate("USDC", "USD").price == Decimal(1)
    with pytest.raises(UnknownPair, match="ETH/USD"):
        source.get_rate("ETH", "USD")
    with pytest.raises(TypeError, match="float"):
        FixedRateSource({("ETH", "USD"): 3000.1})  # type: ignore[dict-item]
    assert isinstance(source, RateSource)


@pytest.mark.anvil
def test_chainlink_good_answer_is_exact_with_provenance(w3: Web3) -> None:
    feed = _feed(w3, 8, 1, "ETH / USD")
    _set_round(w3, feed, 7, 301_234_567_891, T0 - 60)
    rate = _source(w3, feed).get_rate("eth", "usd")
    assert rate.price == Decimal("3012.34567891")
    assert rate.round_id == 7
    assert rate.feed_address == feed.address
    assert rate.source == f"chainlink:31337:{feed.address}"
    assert rate.as_of == NOW - timedelta(seconds=60)


@pytest.mark.anvil
def test_chainlink_eighteen_decimal_feed_keeps_every_digit(w3: Web3) -> None:
    feed = _feed(w3, 18, 1, "ETH / USD")
    _set_round(w3, feed, 2, 3_000_123_456_789_012_345_678_901, T0)
    rate = _source(w3, feed).get_rate("ETH", "USD")
    assert rate.price == Decimal("3000123.456789012345678901")


@pytest.mark.anvil
@pytest.mark.parametrize(
    ("answer", "updated_at", "error", "message"),
    [
        (300_000_000_000, T0 - 3601, StaleRate, "older than the heartbeat"),
        (0, T0, InvalidAnswer, "answer 0 <= 0"),
        (-5, T0, InvalidAnswer, "answer -5 <= 0"),
        (300_000_000_000, T0 + 3600, InvalidAnswer, "in the future"),
    ],
)
def test_chainlink_refuses_unusable_answers(
    w3: Web3, answer: int, updated_at: int, error: type[Exception], message: str
) -> None:
    feed = _feed(w3, 8, 1, "ETH / USD")
    _set_round(w3, feed, 2, answer, updated_at)
    with pytest.raises(error, match=message):
        _source(w3, feed).get_rate("ETH", "USD")


@pytest.mark.anvil
def test_chainlink_heartbeat_is_per_feed(w3: Web3) -> None:
    feed = _feed(w3, 8, 1, "USDC / USD")
    _set_round(w3, feed, 2, 100_000_000, T0 - 23 * 3600)
    with pytest.raises(StaleRate):
        _source(w3, feed, timedelta(hours=1)).get_rate("ETH", "USD")
    assert _source(w3, feed, timedelta(hours=24)).get_rate("ETH", "USD").price == 1


@pytest.mark.anvil
def test_chainlink_historical_rate_walks_back_to_round_at_or_before(w3: Web3) -> None:
    feed = _feed(w3, 8, 1, "ETH / USD")
    for round_id, answer, offset in [(1, 2900, -7200), (2, 3000, -3600), (3, 3100, -60)]:
        _set_round(w3, feed, round_id, answer * 10**8, T0 + offset)
    source = _source(w3, feed)
    at_round_2 = source.get_rate("ETH", "USD", at=NOW - timedelta(minutes=30))
    assert (at_round_2.round_id, at_round_2.price) == (2, Decimal(3000))
    assert source.get_rate("ETH", "USD", at=NOW - timedelta(seconds=7200)).round_id == 1
    assert source.get_rate("ETH", "USD").round_id == 3
    with pytest.raises(RateUnavailable, match="no round at or before"):
        source.get_rate("ETH", "USD", at=NOW - timedelta(hours=3))


@pytest.mark.anvil
def test_chainlink_unknown_pair_and_unreachable_feed(w3: Web3) -> None:
    feed = _feed(w3, 8, 1, "ETH / USD")
    with pytest.raises(UnknownPair):
        _source(w3, feed).get_rate("BTC", "USD")
    not_a_feed = Web3.to_checksum_address("0x" + "11" * 20)
    source = ChainlinkRateSource(
        w3, 31337, {("ETH", "USD"): ChainlinkFeed(not_a_feed, timedelta(hours=1))}
    )
    with pytest.raises(RateUnavailable, match="read failed"):
        source.get_rate("ETH", "USD")


@pytest.mark.anvil
@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (100_000_000, "ok"),
        (99_600_000, "ok"),  # 0.4 % off: inside the 0.5 % guard
        (100_500_000, "ok"),  # exactly on the limit
        (99_400_000, "depeg"),
        (101_000_000, "depeg"),
    ],
)
def test_pegged_stablecoin_guarded_by_real_feed(w3: Web3, answer: int, outcome: str) -> None:
    feed = _feed(w3, 8, 1, "USDC / USD")
    _set_round(w3, feed, 9, answer, T0 - 10)
    guard = ChainlinkRateSource(
        w3,
        31337,
        {("USDC", "USD"): ChainlinkFeed(feed.address, timedelta(hours=24))},
        clock=lambda: NOW,
    )
    pegged = PeggedStablecoinRateSource({"USDC": "USD"}, guard, max_deviation=Decimal("0.005"))
    if outcome == "depeg":
        with pytest.raises(DepegDetected, match="from the peg"):
            pegged.get_rate("USDC", "USD")
        return
    rate = pegged.get_rate("USDC", "USD")
    assert rate.price == Decimal(1)
    assert rate.source == "pegged:USD"
    assert (rate.round_id, rate.feed_address) == (9, feed.address)


@pytest.mark.anvil
def test_pegged_stablecoin_refuses_when_guard_is_stale_or_pair_not_pegged(w3: Web3) -> None:
    feed = _feed(w3, 8, 1, "USDC / USD")
    _set_round(w3, feed, 2, 100_000_000, T0 - 2 * 86400)
    guard = ChainlinkRateSource(
        w3,
        31337,
        {("USDC", "USD"): ChainlinkFeed(feed.address, timedelta(hours=24))},
        clock=lambda: NOW,
    )
    pegged = PeggedStablecoinRateSource({"USDC": "USD"}, guard)
    with pytest.raises(StaleRate):
        pegged.get_rate("USDC", "USD")
    with pytest.raises(UnknownPair):
        pegged.get_rate("USDC", "EUR")
