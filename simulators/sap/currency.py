"""SAP currency decimals (table TCURX) and the internal/external amount formats.

SAP stores every amount of a CURR field with two decimals. For a currency whose ISO decimals are
not two, the stored ("internal") value is shifted: JPY 1000 is kept as 10.00, KWD 1.234 as 12.34.
Interfaces that speak the external format (BAPICURR fields, SOAP Amount, OData amounts with a
unit) convert on the way in and out (BAPI_CURRENCY_CONV_TO_INTERNAL / _TO_EXTERNAL).
"""

from __future__ import annotations

from decimal import Decimal

# TCURX entries of the standard delivery for the currencies the simulator knows (others: 2).
CURRENCY_DECIMALS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "VND": 0,
    "ISK": 0,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}
INTERNAL_DECIMALS = 2
_CENT = Decimal("0.01")


class AmountFormatError(ValueError):
    """An external amount has more decimals than its currency allows."""


def decimals(currency: str) -> int:
    return CURRENCY_DECIMALS.get(currency, 2)


def to_internal(external: Decimal, currency: str) -> Decimal:
    """External (ISO) amount -> internal (shifted, two decimals); refuses lost precision."""
    places = decimals(currency)
    quantum = Decimal(1).scaleb(-places)
    if external != external.quantize(quantum):
        raise AmountFormatError(
            f"amount {external} {currency} has more than {places} decimal places"
        )
    return (external.scaleb(places - INTERNAL_DECIMALS)).quantize(_CENT)


def to_external(internal: Decimal, currency: str) -> Decimal:
    """Internal (shifted) amount -> external amount with the currency's ISO decimals."""
    places = decimals(currency)
    return internal.scaleb(INTERNAL_DECIMALS - places).quantize(Decimal(1).scaleb(-places))
