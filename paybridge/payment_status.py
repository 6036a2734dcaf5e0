"""The one rule for "is this request paid?", shared by the live watcher and the reconciliation.

Tolerances work as SAP's payment-difference tolerances: an absolute and a percentage limit,
and the stricter (smaller) one wins. A shortfall inside tolerance counts as paid (the gap is
written off with a reason code); anything above the amount due is an overpayment that stays
the customer's money (credit or refund), however small.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class AmountStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIAL = "partial"
    PAID = "paid"
    OVER = "over"


@dataclass(frozen=True)
class Tolerance:
    """Allowed shortfall: ``absolute`` base units and ``percent`` of the amount due; min wins."""

    absolute: int = 0
    percent: Decimal = Decimal(0)

    def allowed_shortfall(self, amount_due: int) -> int:
        num, den = self.percent.as_integer_ratio()
        by_percent = amount_due * num // (den * 100)
        return min(self.absolute, by_percent)


EXACT = Tolerance()


def classify_amount(amount_due: int, received: int, tolerance: Tolerance = EXACT) -> AmountStatus:
    if received <= 0:
        return AmountStatus.UNPAID
    if received > amount_due:
        return AmountStatus.OVER
    if amount_due - received <= tolerance.allowed_shortfall(amount_due):
        return AmountStatus.PAID
    return AmountStatus.PARTIAL
