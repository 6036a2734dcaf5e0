"""Amounts as people read and type them (``paybridge.domain.amounts``): exact in both
directions, golden-filed, with refusals that name the input and say what to type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from golden_files import assert_golden

from paybridge.domain.amounts import format_fiat, format_token, parse_token_amount
from paybridge.domain.money import MAX_UINT256, MoneyError

TOKENS = [  # (base units, decimals, symbol)
    (480_000_000, 6, "USDC"),
    (48_300_000, 6, "USDC"),
    (1, 6, "USDC"),
    (0, 6, "USDC"),
    (1_234_567_890_123, 6, "USDC"),
    (91_700_000_000_000_000, 18, "ETH"),
    (91_683_333_333_333_333, 18, "ETH"),
    (10**18, 18, "ETH"),
    (1, 18, "ETH"),
    (2**63, 18, "ETH"),
    (2**63 + 1, 18, "ETH"),
    (2**64 - 1, 18, "ETH"),
    (10**30 + 7, 18, "ETH"),
    (MAX_UINT256, 18, "ETH"),
    (-40_000_000, 6, "USDC"),
    (5, 0, "PTS"),
]
FIAT = [  # (amount, currency)
    ("480", "USD"),
    ("480.5", "USD"),
    ("1234567.89", "USD"),
    ("125000", "JPY"),
    ("1250000", "JPY"),
    ("12.345", "BHD"),
    ("12.3", "BHD"),
    ("0.001", "BHD"),
    ("-40.00", "USD"),
    ("1.23456", "USD"),  # a fair value before posting: more decimals shown, never rounded
]


def test_token_and_fiat_formats_match_the_golden_file() -> None:
    lines = [f"{u} {d} {s} -> {format_token(u, d, s)}" for u, d, s in TOKENS]
    lines += [f"{a} {c} -> {format_fiat(Decimal(a), c)}" for a, c in FIAT]
    assert_golden("amounts.txt", "\n".join(lines) + "\n")


@pytest.mark.parametrize(("units", "decimals", "symbol"), [t for t in TOKENS if t[0] >= 0])
def test_every_shown_token_amount_reads_back_to_the_same_base_units(
    units: int, decimals: int, symbol: str
) -> None:
    """What the CLI prints can be typed back as an amount: nothing was rounded away."""
    shown = format_token(units, decimals, symbol)
    assert parse_token_amount(shown, symbol, decimals) == units


def test_display_rule_examples() -> None:
    assert format_token(480_000_000, 6, "USDC") == "480.00 USDC"
    assert format_token(91_700_000_000_000_000, 18, "ETH") == "0.0917 ETH"
    assert format_token(2**63 + 1, 18, "ETH") == "9.223372036854775809 ETH"
    assert format_fiat(Decimal("125000"), "JPY") == "125,000 JPY"
    assert format_fiat(Decimal("12.345"), "BHD") == "12.345 BHD"


@pytest.mark.parametrize(
    ("text", "symbol", "decimals", "units"),
    [
        ("12.5 USDC", "USDC", 6, 12_500_000),
        ("12.500000 USDC", "USDC", 6, 12_500_000),
        ("1,234.5 usdc", "USDC", 6, 1_234_500_000),
        ("0.000001 USDC", "USDC", 6, 1),
        ("12500000 base units", "USDC", 6, 12_500_000),
        ("  12500000   base units ", "USDC", 6, 12_500_000),
        ("9.223372036854775809 ETH", "ETH", 18, 2**63 + 1),
        ("9223372036854775809 base units", "ETH", 18, 2**63 + 1),
        ("0.000000000000000001 ETH", "ETH", 18, 1),
        ("125000 JPYC", "JPYC", 0, 125_000),
    ],
)
def test_amount_inputs_are_exact(text: str, symbol: str, decimals: int, units: int) -> None:
    assert parse_token_amount(text, symbol, decimals, what="--amount") == units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", "say the unit"),
        ("12500000", "say the unit"),
        ("12.5 ETH", "is USDC, not ETH"),
        ("1.0000001 USDC", "USDC has 6 decimals, this has 7"),
        ("-1 USDC", "not a positive decimal number"),
        ("1e6 USDC", "not a positive decimal number"),
        ("NaN USDC", "not a positive decimal number"),
        ("1.5 base units", "whole number"),
        (f"{MAX_UINT256 + 1} base units", "2**256-1"),
        ("", "say the unit"),
    ],
)
def test_amount_inputs_refused_name_the_option(text: str, expected: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_token_amount(text, "USDC", 6, what="--amount")
    assert str(refused.value).startswith(f"--amount {text!r}")
    assert expected in str(refused.value)
    if expected in ("say the unit", "not a positive decimal number", "whole number"):
        assert '--amount "12.5 USDC" or --amount "12500000 base units"' in str(refused.value)
