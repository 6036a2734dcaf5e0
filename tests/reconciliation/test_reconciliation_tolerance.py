"""Engine tolerance agrees with the shared live-status rule (paybridge.payment_status)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from paybridge_reconciliation.tolerance import (
    AmountStatus,
    classify_amount,
    classify_amount_vec,
    percent_to_ppm,
    tolerance_units,
    tolerance_units_vec,
)

from paybridge.payment_status import AmountStatus as LiveStatus
from paybridge.payment_status import Tolerance
from paybridge.payment_status import classify_amount as live_classify

LIVE = {
    AmountStatus.UNPAID: LiveStatus.UNPAID,
    AmountStatus.PARTIAL: LiveStatus.PARTIAL,
    AmountStatus.PAID: LiveStatus.PAID,
    AmountStatus.PAID_WITHIN_TOLERANCE: LiveStatus.PAID,
    AmountStatus.OVERPAID: LiveStatus.OVER,
}

dues = st.integers(1, 2**256 - 1)
percents = st.decimals(min_value=0, max_value=100, places=4)


@settings(max_examples=300, deadline=None)
@given(dues, st.integers(0, 2**256 - 1), st.integers(0, 10**8), st.integers(1, 10**9), percents)
def test_engine_and_live_status_agree(due, received, abs_minor, invoice_minor, percent):
    tol = tolerance_units(due, invoice_minor, abs_minor, percent_to_ppm(percent))
    # the live rule takes the absolute limit already in base units
    abs_units = abs_minor * due // invoice_minor
    live = Tolerance(absolute=abs_units, percent=Decimal(percent))
    assert tol == live.allowed_shortfall(due)
    assert LIVE[classify_amount(due, received, tol)] == live_classify(due, received, live)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            dues, st.integers(0, 2**256 - 1), st.integers(0, 10**6), st.integers(1, 10**9), percents
        ),
        min_size=1,
        max_size=30,
    )
)
def test_vectorised_equals_scalar(rows):
    due = np.array([r[0] for r in rows], dtype=object)
    got = np.array([r[1] for r in rows], dtype=object)
    abs_minor = np.array([r[2] for r in rows], dtype=object)
    inv = np.array([r[3] for r in rows], dtype=object)
    ppm = np.array([percent_to_ppm(r[4]) for r in rows], dtype=np.int64)
    tol = tolerance_units_vec(due, inv, abs_minor, ppm)
    expected = [
        tolerance_units(d, i, a, p) for d, i, a, p in zip(due, inv, abs_minor, ppm, strict=True)
    ]
    assert list(tol) == expected
    assert list(classify_amount_vec(due, got, tol)) == [
        classify_amount(d, g, t).value for d, g, t in zip(due, got, expected, strict=True)
    ]


def test_stricter_limit_wins():
    # 100.00 invoice, due 100 USDC: 1.00 absolute vs 0.5% -> 0.50 wins
    assert tolerance_units(100_000_000, 10_000, 100, 5_000) == 500_000
    # 10,000.00 invoice: 0.5% = 50.00, absolute 1.00 wins
    assert tolerance_units(10_000_000_000, 1_000_000, 100, 5_000) == 1_000_000
