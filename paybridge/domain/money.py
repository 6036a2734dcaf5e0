"""Exact money: fiat as ``Decimal`` at its ISO 4217 exponent, tokens as integer base units.

Nothing here touches ``float``. Amounts with more decimals than their currency allows are
refused rather than rounded, because a silent rounding is an accounting difference nobody
asked for.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction

import iso4217

#: Largest on-chain amount (uint256): base units above it cannot exist.
MAX_UINT256 = 2**256 - 1
#: Enough digits for uint256 base units (78) times any realistic price, exactly.
EXACT_PRECISION = 160


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def currency_exponent(code: str) -> int:
    """ISO 4217 minor-unit exponent (JPY 0, USD 2, BHD 3); unknown or non-monetary codes refused."""
    try:
        exponent = iso4217.Currency(code.upper()).exponent if code else None
    except (ValueError, KeyError):
        exponent = None
    if exponent is None or code != code.upper():
        raise MoneyError(f"unknown currency {code!r}: expected an ISO 4217 code such as USD")
    return exponent


def parse_fiat(value: str | int | Decimal, currency: str) -> Decimal:
    """Parse a fiat amount exactly, refusing more decimals than the currency has."""
    if isinstance(value, float):
        raise MoneyError("fiat amounts must not be floats; pass a string or Decimal")
    exponent = currency_exponent(currency)
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise MoneyError(f"not a number: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    quantum = Decimal(1).scaleb(-exponent)
    try:
        exact = amount.quantize(quantum)
    except InvalidOperation as exc:
        raise MoneyError(f"amount {value} is too large") from exc
    if exact != amount:
        raise MoneyError(
            f"{value} has more decimals than {currency} allows ({exponent}); "
            "round it in the ERP, PayBridge does not round silently"
        )
    return exact


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Fiat amount -> integer minor units (cents), exact."""
    exact = parse_fiat(amount, currency)
    return int(exact.scaleb(currency_exponent(currency)))


def check_base_units(value: int, what: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(f"{what} must be an integer number of base units")
    if not 0 <= value <= MAX_UINT256:
        raise MoneyError(f"{what} {value} is outside 0..2**256-1")
    return value


def fiat_to_base_units(amount: Decimal, price: Decimal, decimals: int) -> int:
    """Fiat amount / price of one token -> base units, rounded UP: the merchant is never short."""
    if price <= 0:
        raise MoneyError(f"rate must be positive, got {price}")
    exact = Fraction(amount) * (10**decimals) / Fraction(price)
    units = -(-exact.numerator // exact.denominator)
    return check_base_units(units, "amount due")


def base_units_to_fiat(amount: int, price: Decimal, decimals: int, currency: str) -> Decimal:
    """Fair value of a token amount in fiat, rounded half-even to the currency's exponent.

    Computed in a wide local context: the default 28 digits would silently round an 18-decimal
    token amount times a price before the final quantize.
    """
    with localcontext() as ctx:
        ctx.prec = EXACT_PRECISION
        value = Decimal(amount).scaleb(-decimals) * price
        return value.quantize(Decimal(1).scaleb(-currency_exponent(currency)))
