"""SAP amounts: the internal (shifted) format and the external one, converted exactly.

SAP stores every amount of a CURR field with two decimals, whatever the currency. A currency
with other decimals (table TCURX: JPY 0, KWD 3) is kept *shifted*: JPY 1000 is stored as 10.00,
KWD 1.234 as 12.34. Interfaces differ in what they speak, so each one is named here:

* ``EXTERNAL``: the OData cube (Gateway converts CURR fields by their currency reference), the
  SOAP journal entry and clearing services (``Amount`` with ``currencyCode``), and the BAPIs'
  BAPICURR fields (``BAPIACCR09-AMT_DOCCUR`` DEC 23,4; ``BAPI3007_2`` amounts of data elements
  BAPIWRBTR/BAPIDMBTR). PayBridge's own amounts are external too (ISO 4217 exponent).
* ``INTERNAL``: raw CURR fields (BSEG-WRBTR, a table read through RFC_READ_TABLE, a CURR field
  of a customer RFC). Convert with :func:`to_internal` / :func:`from_internal`.

No float anywhere: amounts are ``Decimal`` and conversions refuse what would need rounding.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache

from paybridge.domain.money import MoneyError, currency_exponent

INTERNAL_DECIMALS = 2  # every CURR field keeps 2 decimals, shifted for other currencies
BAPICURR_DIGITS, BAPICURR_DECIMALS = 23, 4  # DEC 23,4
SOAP_AMOUNT_DIGITS, SOAP_AMOUNT_DECIMALS = 28, 6  # Amount.Content: totalDigits 28, fraction 6


class AmountFormat(StrEnum):
    EXTERNAL = "external"
    INTERNAL = "internal"


#: What each interface the connectors use speaks (see module docstring for the sources).
INTERFACE_FORMATS: dict[str, AmountFormat] = {
    "odata:A_OperationalAcctgDocItemCube": AmountFormat.EXTERNAL,
    "soap:JournalEntryCreateRequestConfirmation_In": AmountFormat.EXTERNAL,
    "soap:JournalEntryBulkClearingRequest_In": AmountFormat.EXTERNAL,
    "rfc:BAPI_ACC_DOCUMENT_POST.CURRENCYAMOUNT": AmountFormat.EXTERNAL,
    "rfc:BAPI_AR_ACC_GETOPENITEMS.LINEITEMS": AmountFormat.EXTERNAL,
    "table:BSEG.WRBTR": AmountFormat.INTERNAL,
}


class SapAmountError(MoneyError):
    """An amount SAP cannot hold exactly in this currency (names the amount and currency)."""


def sap_decimals(currency: str, overrides: dict[str, int] | None = None) -> int:
    """Decimals of ``currency`` in this SAP system: TCURX override, else ISO 4217."""
    if overrides and currency in overrides:
        return overrides[currency]
    return _iso_decimals(currency)


@lru_cache(maxsize=256)
def _iso_decimals(currency: str) -> int:
    return currency_exponent(currency)


def _exact(value: Decimal, decimals: int, what: str) -> Decimal:
    if isinstance(value, float) or not isinstance(value, Decimal) or not value.is_finite():
        raise SapAmountError(f"{what}: {value!r} is not an exact Decimal amount")
    try:
        exact = value.quantize(Decimal(1).scaleb(-decimals))
    except InvalidOperation as exc:
        raise SapAmountError(f"{what}: {value} is too large") from exc
    if exact != value:
        raise SapAmountError(f"{what}: {value} has more than {decimals} decimals")
    return exact


def to_internal(amount: Decimal, currency: str, overrides: dict[str, int] | None = None) -> Decimal:
    """External -> internal (JPY 1000 -> 10.00; KWD 1.234 -> 12.34; EUR 5.10 -> 5.10)."""
    decimals = sap_decimals(currency, overrides)
    external = _exact(amount, decimals, f"{currency} amount")
    return external.scaleb(decimals - INTERNAL_DECIMALS).quantize(Decimal("0.01"))


def from_internal(
    amount: Decimal, currency: str, overrides: dict[str, int] | None = None
) -> Decimal:
    """Internal -> external (JPY 10.00 -> 1000; KWD 12.34 -> 1.234)."""
    decimals = sap_decimals(currency, overrides)
    internal = _exact(amount, INTERNAL_DECIMALS, f"{currency} internal amount")
    return internal.scaleb(INTERNAL_DECIMALS - decimals).quantize(Decimal(1).scaleb(-decimals))


def external(
    amount: Decimal,
    currency: str,
    overrides: dict[str, int] | None = None,
    *,
    digits: int = BAPICURR_DIGITS,
    field_decimals: int = BAPICURR_DECIMALS,
) -> Decimal:
    """Check an external amount fits the currency and the field (DEC ``digits``,
    ``field_decimals``); return it at the currency's decimals."""
    decimals = sap_decimals(currency, overrides)
    value = _exact(amount, min(decimals, field_decimals), f"{currency} amount")
    if len(value.as_tuple().digits) - max(0, -int(value.as_tuple().exponent)) > (
        digits - field_decimals
    ):
        raise SapAmountError(
            f"{currency} amount {amount} does not fit DEC {digits},{field_decimals}"
        )
    return value


def parse_external(
    text: str | Decimal, currency: str, overrides: dict[str, int] | None = None
) -> Decimal:
    """A decimal string from SAP (``"1190.000"``, ``"-5.00"``) -> exact Decimal at the currency's
    decimals; more significant decimals than the currency has are refused."""
    try:
        value = text if isinstance(text, Decimal) else Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise SapAmountError(f"{currency} amount {text!r} is not a decimal number") from exc
    quantum = _quantum(sap_decimals(currency, overrides))
    try:
        exact = value.quantize(quantum)
    except InvalidOperation as exc:
        raise SapAmountError(f"{currency} amount {text} is not a finite amount") from exc
    if exact != value:
        raise SapAmountError(
            f"{currency} amount: {text} has more than {-quantum.as_tuple().exponent} decimals"
        )
    return exact


@lru_cache(maxsize=16)
def _quantum(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)
