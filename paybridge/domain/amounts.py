"""Amounts as people read and type them; machines keep integer base units.

Display rule (every human output of the CLI uses these two functions):

* **tokens** (``format_token``): base units shown in token units with the symbol, exact, with
  thousands separators: every significant digit is kept (the token's full precision, never
  rounded), at least 2 decimals (fewer only when the token has fewer), trailing zeros beyond
  that trimmed: ``480000000`` USDC -> ``480.00 USDC``, ``91700000000000000`` ETH ->
  ``0.0917 ETH``, ``1`` wei -> ``0.000000000000000001 ETH``.
* **fiat** (``format_fiat``): the invoice currency at its ISO 4217 exponent (``125,000 JPY``,
  ``12.345 BHD``, ``480.00 USD``); an amount with more decimals than the currency has (a rate
  or a fair value before posting) is shown with all of them, never rounded.

Input rule (``parse_token_amount``): ``"12.5 USDC"`` (token units, the asset's symbol) or
``"12500000 base units"`` (integer base units, said explicitly). Both are exact; a bare number,
another symbol, more decimals than the token has, a negative or a non-number is refused with
what to type instead.
"""

from __future__ import annotations

import re
from decimal import Decimal

from paybridge.domain.money import MAX_UINT256, MoneyError, currency_exponent

#: the minimum number of decimals shown for a token amount (when the token has them)
MIN_TOKEN_DECIMALS = 2
BASE_UNITS_WORDS = ("base units", "base unit", "base-units")
_NUMBER = re.compile(r"^[0-9][0-9_,]*(\.[0-9]+)?$|^\.[0-9]+$")


def format_base_units(base_units: int, decimals: int, *, min_fraction_digits: int = 2) -> str:
    """Exact token units with thousands separators: (1234500000, 6) -> '1,234.50'.

    Never rounds: every significant digit is shown, trailing zeros beyond
    ``min_fraction_digits`` are dropped. Python ints have no size limit, so 18-decimal amounts
    above 2**63 (and up to 2**256-1) are exact too.
    """
    if isinstance(base_units, bool) or not isinstance(base_units, int):
        raise TypeError(f"base units must be an int, got {type(base_units).__name__}")
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")
    sign = "-" if base_units < 0 else ""
    whole, fraction = divmod(abs(base_units), 10**decimals)
    fraction_text = str(fraction).rjust(decimals, "0") if decimals else ""
    keep = max(len(fraction_text.rstrip("0")), min(min_fraction_digits, decimals))
    fraction_text = fraction_text[:keep]
    return f"{sign}{whole:,}" + (f".{fraction_text}" if fraction_text else "")


def format_token(base_units: int | str, decimals: int, symbol: str) -> str:
    """``480000000, 6, 'USDC'`` -> ``'480.00 USDC'`` (see the module's display rule)."""
    return f"{format_base_units(int(base_units), decimals)} {symbol}"


def format_fiat(amount: Decimal | str, currency: str) -> str:
    """``Decimal('125000'), 'JPY'`` -> ``'125,000 JPY'``; ``'12.3', 'BHD'`` -> ``'12.300 BHD'``.

    Padded to the ISO exponent; more decimals than it are kept (shown, never rounded)."""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    exponent = currency_exponent(currency)
    given = value.as_tuple().exponent
    places = max(exponent, -given if isinstance(given, int) and given < 0 else 0)
    text = f"{abs(value):,.{places}f}"
    return f"{'-' if value < 0 else ''}{text} {currency}"


def parse_token_amount(text: str, symbol: str, decimals: int, *, what: str = "amount") -> int:
    """Base units from ``"12.5 USDC"`` or ``"12500000 base units"``, exactly.

    ``what`` names the input (e.g. ``--amount``) in every error, which says what to type."""
    example = f'e.g. {what} "12.5 {symbol}" or {what} "12500000 base units"'
    raw = " ".join(str(text).split())
    lowered = raw.lower()
    unit = next((w for w in BASE_UNITS_WORDS if lowered.endswith(" " + w)), None)
    if unit is not None:
        number = raw[: -len(unit)].strip().replace("_", "")
        if not number.isdigit() or not number.isascii():
            raise MoneyError(f"{what} {text!r}: base units are a whole number ({example})")
        return _in_range(int(number), text, what)
    number, _, given = raw.rpartition(" ")
    if not number:
        raise MoneyError(
            f"{what} {text!r}: say the unit, the token's symbol or base units ({example})"
        )
    if given.upper() != symbol.upper():
        raise MoneyError(
            f"{what} {text!r}: the asset of this amount is {symbol}, not {given} ({example})"
        )
    if not _NUMBER.match(number):
        raise MoneyError(
            f"{what} {text!r}: {number!r} is not a positive decimal number ({example})"
        )
    whole, _, fraction = number.replace(",", "").replace("_", "").partition(".")
    fraction = fraction.rstrip("0")  # 12.50 USDC is 12.5 USDC: trailing zeros are no precision
    if len(fraction) > decimals:
        raise MoneyError(
            f"{what} {text!r}: {symbol} has {decimals} decimals, this has {len(fraction)}; "
            f"PayBridge does not round: give at most {decimals} decimals or the exact base units"
        )
    units = int(whole or "0") * 10**decimals + int(fraction.ljust(decimals, "0") or "0")
    return _in_range(units, text, what)


def _in_range(units: int, text: str, what: str) -> int:
    if units > MAX_UINT256:
        raise MoneyError(f"{what} {text!r} is more than any token amount (2**256-1 base units)")
    return units


__all__ = [
    "BASE_UNITS_WORDS",
    "MIN_TOKEN_DECIMALS",
    "format_base_units",
    "format_fiat",
    "format_token",
    "parse_token_amount",
]
