"""Exact money: ISO 4217 exponents, no silent rounding, uint256 base units on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from paybridge.domain.money import (
    MoneyError,
    base_units_to_fiat,
    currency_exponent,
    fiat_to_base_units,
    parse_fiat,
    to_minor_units,
)
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.types import MAX_UINT256


@pytest.mark.parametrize(("code", "exponent"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("BHD", 3)])
def test_iso4217_exponents(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("100", "JPY", "100"),
        ("100.00", "JPY", "100"),
        ("10.5", "USD", "10.50"),
        ("1.234", "BHD", "1.234"),
        ("0.01", "USD", "0.01"),
    ],
)
def test_parse_fiat_keeps_the_exact_value(text: str, currency: str, expected: str) -> None:
    parsed = parse_fiat(text, currency)
    assert parsed == Decimal(expected)
    assert str(parsed) == expected


@pytest.mark.parametrize(
    ("text", "currency", "fragment"),
    [
        ("1.5", "JPY", "more decimals than JPY"),
        ("1.001", "USD", "more decimals than USD"),
        ("1.0001", "BHD", "more decimals than BHD"),
        ("1", "XYZ", "unknown currency"),
        ("1", "usd", "unknown currency"),
        ("abc", "USD", "not a number"),
        ("NaN", "USD", "finite"),
    ],
)
def test_parse_fiat_refuses_instead_of_rounding(text: str, currency: str, fragment: str) -> None:
    with pytest.raises(MoneyError, match=fragment):
        parse_fiat(text, currency)


def test_floats_are_refused() -> None:
    with pytest.raises(MoneyError, match="float"):
        parse_fiat(0.1, "USD")  # type: ignore[arg-type]


def test_minor_units_round_trip() -> None:
    assert to_minor_units(Decimal("12.34"), "USD") == 1234
    assert to_minor_units(Decimal("1.234"), "BHD") == 1234
    assert to_minor_units(Decimal("1234"), "JPY") == 1234


def test_quote_rounds_up_to_the_next_base_unit() -> None:
    # 100 USD at 3 USD/token, 6 decimals: 33.333333(3) -> 33.333334
    assert fiat_to_base_units(Decimal("100"), Decimal("3"), 6) == 33_333_334
    # exact division stays exact
    assert fiat_to_base_units(Decimal("100.00"), Decimal("1"), 6) == 100_000_000
    # the amount due is never worth less than the invoice
    due = fiat_to_base_units(Decimal("100.00"), Decimal("0.9998"), 6)
    assert Decimal(due) * Decimal("0.9998") / Decimal(10**6) >= Decimal("100.00")
    assert Decimal(due - 1) * Decimal("0.9998") / Decimal(10**6) < Decimal("100.00")


def test_fair_value() -> None:
    # 30-digit wei amount times a price: more digits than Decimal's default context keeps
    wei = 123_456_789_012_345_678_901_234_567_891
    assert base_units_to_fiat(wei, Decimal("3000.12"), 18, "USD") == Decimal("370385181851718.52")
    assert base_units_to_fiat(MAX_UINT256, Decimal("1"), 0, "JPY") == Decimal(MAX_UINT256)
    assert base_units_to_fiat(1_500_000, Decimal("0.9998"), 6, "USD") == Decimal("1.50")


@pytest.mark.parametrize("amount", [MAX_UINT256, 10**30 + 1, 0, 2**64 + 1])
def test_base_units_round_trip_exactly(
    store: sa.Engine, config, wallet, fixed_rates, make_invoice, amount: int
) -> None:
    """amount_due / amount_received survive the database exactly at the uint256 extremes."""
    from paybridge.requests.service import create_payment_requests

    with transaction(store) as session:
        [created] = create_payment_requests(
            session,
            [make_invoice(1)],
            config=config,
            rates_for_chain=lambda _c: fixed_rates,
            wallet=wallet,
            actor="test",
            now=datetime(2026, 11, 1, tzinfo=UTC),
        )
        created.request.amount_received = amount
        created.request.amount_confirmed = amount
    with transaction(store) as session:
        stored = session.scalars(sa.select(PaymentRequest)).one()
        assert stored.amount_received == amount
        assert type(stored.amount_received) is int
        # and the database itself compares them exactly
        found = session.scalar(
            sa.select(sa.func.count()).where(PaymentRequest.amount_confirmed == amount)
        )
        assert found == 1


def test_base_units_out_of_range_are_refused(
    sqlite_store: sa.Engine, config, wallet, fixed_rates, make_invoice
) -> None:
    from paybridge.requests.service import create_payment_requests

    with (
        pytest.raises(sa.exc.StatementError, match="uint256"),
        transaction(sqlite_store) as session,
    ):
        [created] = create_payment_requests(
            session,
            [make_invoice(1)],
            config=config,
            rates_for_chain=lambda _c: fixed_rates,
            wallet=wallet,
            actor="test",
        )
        created.request.amount_received = MAX_UINT256 + 1
        session.flush()
