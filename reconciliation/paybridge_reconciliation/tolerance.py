"""Canonical payment-tolerance semantics (SAP style), scalar and vectorised.

A customer group has an absolute limit (invoice currency) and a percentage limit; the stricter
(smaller) wins. Both are turned into base units of the quoted asset, rounded down so the
tolerance never exceeds what the limits allow. Only shortfalls are tolerated; any excess is an
overpayment (customer credit / refund), as Odoo and Oracle treat it.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import numpy as np

from paybridge_reconciliation.amounts import as_object

PPM = 1_000_000


class AmountStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIAL = "partial"
    PAID_WITHIN_TOLERANCE = "paid_within_tolerance"
    PAID = "paid"
    OVERPAID = "overpaid"


def percent_to_ppm(percent: Decimal) -> int:
    """'0.5' (%) -> 5000 parts per million; refuses more precision than 1 ppm."""
    ppm = Decimal(percent) * 10_000
    if ppm != ppm.to_integral_value() or ppm < 0:
        raise ValueError(f"percent tolerance {percent} must be >= 0 with at most 4 decimals")
    return int(ppm)


def tolerance_units(
    amount_due: int, invoice_minor: int, absolute_minor: int, percent_ppm: int
) -> int:
    """Tolerance in asset base units: min(absolute converted at the quote, percent of due)."""
    amount_due, invoice_minor = int(amount_due), int(invoice_minor)
    absolute_minor, percent_ppm = int(absolute_minor), int(percent_ppm)
    if invoice_minor <= 0:
        return 0
    by_absolute = absolute_minor * amount_due // invoice_minor
    by_percent = amount_due * percent_ppm // PPM
    return min(by_absolute, by_percent)


def tolerance_units_vec(
    amount_due: np.ndarray,
    invoice_minor: np.ndarray,
    absolute_minor: np.ndarray,
    percent_ppm: np.ndarray,
) -> np.ndarray:
    due = as_object(amount_due)
    inv = as_object(invoice_minor)
    safe_inv = np.where(inv > 0, inv, 1)
    by_absolute = as_object(absolute_minor) * due // safe_inv
    by_percent = due * as_object(percent_ppm) // PPM
    out = np.where(by_absolute < by_percent, by_absolute, by_percent)
    return np.where(inv > 0, out, 0)


def classify_amount(amount_due: int, received: int, tolerance: int) -> AmountStatus:
    """Status of a request given what was applied to it (base units)."""
    amount_due, received, tolerance = int(amount_due), int(received), int(tolerance)
    if received <= 0:
        return AmountStatus.UNPAID
    if received == amount_due:
        return AmountStatus.PAID
    if received > amount_due:
        return AmountStatus.OVERPAID
    if amount_due - received <= tolerance:
        return AmountStatus.PAID_WITHIN_TOLERANCE
    return AmountStatus.PARTIAL


def classify_amount_vec(
    amount_due: np.ndarray, received: np.ndarray, tolerance: np.ndarray
) -> np.ndarray:
    due, got, tol = (as_object(x) for x in (amount_due, received, tolerance))
    return np.select(
        [got <= 0, got == due, got > due, (due - got) <= tol],
        [
            AmountStatus.UNPAID.value,
            AmountStatus.PAID.value,
            AmountStatus.OVERPAID.value,
            AmountStatus.PAID_WITHIN_TOLERANCE.value,
        ],
        default=AmountStatus.PARTIAL.value,
    ).astype(object)
