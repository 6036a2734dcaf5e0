"""Internal (shifted) vs external SAP amounts, exact, for 0-, 2- and 3-decimal currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from paybridge_connectors.erp.sap.amounts import (
    INTERFACE_FORMATS,
    AmountFormat,
    SapAmountError,
    external,
    from_internal,
    parse_external,
    to_internal,
)


@pytest.mark.parametrize(
    ("currency", "outside", "inside"),
    [
        ("JPY", Decimal("1000"), Decimal("10.00")),
        ("JPY", Decimal("123456789"), Decimal("1234567.89")),
        ("KWD", Decimal("1.234"), Decimal("12.34")),
        ("KWD", Decimal("0.001"), Decimal("0.01")),
        ("EUR", Decimal("5.10"), Decimal("5.10")),
        ("EUR", Decimal("-1190.00"), Decimal("-1190.00")),
    ],
)
def test_internal_and_external_convert_exactly(
    currency: str, outside: Decimal, inside: Decimal
) -> None:
    assert to_internal(outside, currency) == inside
    assert str(to_internal(outside, currency)) == str(inside)
    assert from_internal(inside, currency) == outside
    assert from_internal(to_internal(outside, currency), currency) == outside


def test_amounts_the_currency_cannot_hold_are_refused_not_rounded() -> None:
    with pytest.raises(SapAmountError, match=r"JPY amount: 1000\.5 has more than 0 decimals"):
        to_internal(Decimal("1000.5"), "JPY")
    with pytest.raises(SapAmountError, match="KWD"):
        to_internal(Decimal("1.2345"), "KWD")
    with pytest.raises(SapAmountError, match="internal amount"):
        from_internal(Decimal("10.001"), "JPY")
    with pytest.raises(SapAmountError, match="not an exact Decimal"):
        to_internal(1.5, "EUR")  # type: ignore[arg-type]


def test_system_decimals_override_iso() -> None:
    # A system whose TCURX keeps HUF without decimals: 150 HUF is stored as 1.50.
    assert to_internal(Decimal("150"), "HUF", {"HUF": 0}) == Decimal("1.50")
    with pytest.raises(SapAmountError):
        to_internal(Decimal("150.25"), "HUF", {"HUF": 0})


def test_external_fields_and_parsing() -> None:
    assert external(Decimal("1.234"), "KWD") == Decimal("1.234")
    with pytest.raises(SapAmountError, match="does not fit DEC 23,4"):
        external(Decimal("1" * 20), "EUR")
    assert parse_external("1190.000", "EUR") == Decimal("1190.00")
    assert parse_external("-5000", "JPY") == Decimal("-5000")
    with pytest.raises(SapAmountError, match="more than 0 decimals"):
        parse_external("5000.10", "JPY")
    with pytest.raises(SapAmountError, match="not a decimal number"):
        parse_external("abc", "EUR")


def test_each_interface_names_its_format() -> None:
    assert INTERFACE_FORMATS["rfc:BAPI_ACC_DOCUMENT_POST.CURRENCYAMOUNT"] is AmountFormat.EXTERNAL
    assert INTERFACE_FORMATS["table:BSEG.WRBTR"] is AmountFormat.INTERNAL
