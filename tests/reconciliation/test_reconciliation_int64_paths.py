"""The int64 fast paths of exact amount arithmetic give the Python-int results, row by row.

mul_div_half_even runs rows in int64 only where nothing can overflow; these properties mix
rows of every kind (ties at exactly .5, zero, negatives, values at and beyond the int64 bounds,
products that overflow int64) in one call, and compare with Fraction's half-even rounding."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybridge_reconciliation.amounts import (
    as_object,
    div_round_half_even,
    int64_split,
    minor_to_str,
    mul_div_half_even,
    pow10,
    strip_pow10,
)
from paybridge_reconciliation.fixed_point import int_text, minor_to_text

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I64 = 2**63

edges = st.sampled_from([0, 1, -1, 2, I64 - 1, -I64, -I64 + 1, I64, 2**62, 2**31, 3 * 10**9])
ints = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**40), 2**40),
    st.integers(-I64 - 10, I64 + 10),
    st.integers(-(2**90), 2**90),
    edges,
)
dens = st.one_of(
    st.integers(1, 1000),
    st.sampled_from([2, 10, 10**9, 10**18, 2**62, 2**62 + 1, I64 - 1, I64, 10**30]),
    st.integers(1, 2**70),
)


@st.composite
def rows(draw):
    """(a, b, den) with den > 0; a third of them built as exact ties (a * b = (q + 1/2) den)."""
    den = draw(dens)
    if den % 2 == 0 and draw(st.booleans()):
        q = draw(st.integers(-(10**12), 10**12))
        product = q * den + den // 2
        b = draw(st.sampled_from([1, -1]))
        return product * b, b, den
    return draw(ints), draw(ints), den


def _reference(a: int, b: int, den: int) -> int:
    return round(Fraction(a * b, den))  # Fraction rounds half to even


def _as_given(values: list[int], as_int64: bool) -> np.ndarray:
    if as_int64 and all(-I64 <= v < I64 for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object)


@SETTINGS
@given(st.lists(rows(), min_size=1, max_size=40), st.booleans(), st.booleans())
def test_mul_div_half_even_equals_python_ints(cases, a_int64: bool, den_int64: bool) -> None:
    a = _as_given([c[0] for c in cases], a_int64)
    b = _as_given([c[1] for c in cases], True)
    den = _as_given([c[2] for c in cases], den_int64)
    got = mul_div_half_even(a, b, den)
    assert got.dtype == object
    assert all(type(v) is int for v in got)
    expected = [_reference(*c) for c in cases]
    assert got.tolist() == expected
    # asked for int64: int64 exactly when every row can be computed in int64, same values
    as_int64 = mul_div_half_even(a, b, den, int64_if_all_fit=True)
    assert as_int64.tolist() == expected
    all_safe = all(
        -I64 < x < I64 and -I64 < y < I64 and 0 < d <= 2**62 and abs(x) * abs(y) < I64
        for x, y, d in cases
    )
    assert as_int64.dtype == (np.int64 if all_safe else object)
    plain = div_round_half_even(as_object(a) * as_object(b), as_object(den))
    assert plain.tolist() == expected


@SETTINGS
@given(st.lists(st.tuples(ints, ints), min_size=1, max_size=30), dens)
def test_mul_div_half_even_scalar_denominator(pairs, den: int) -> None:
    a = np.array([p[0] for p in pairs], dtype=object)
    b = np.array([p[1] for p in pairs], dtype=object)
    assert mul_div_half_even(a, b, den).tolist() == [_reference(x, y, den) for x, y in pairs]


def test_mul_div_half_even_ties_go_to_even_in_int64() -> None:
    a = np.array([5, 15, 25, -5, -15, 7, 0], dtype=np.int64)
    got = mul_div_half_even(a, np.ones(7, dtype=np.int64), np.full(7, 10, dtype=np.int64))
    assert got.tolist() == [0, 2, 2, 0, -2, 1, 0]


def test_mul_div_half_even_keeps_zero_division_of_python_ints() -> None:
    with pytest.raises(ZeroDivisionError):
        mul_div_half_even(np.array([1], dtype=object), np.array([1]), np.array([0], dtype=object))


def test_int64_split_marks_rows_that_fit() -> None:
    values = np.array([1, I64 - 1, I64, -I64, -I64 + 1, -(2**80)], dtype=object)
    small, fits = int64_split(values)
    assert fits.tolist() == [True, True, False, False, True, False]
    assert small[fits].tolist() == [1, I64 - 1, -I64 + 1]


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.one_of(st.integers(0, 2**64), st.integers(-(2**70), 2**70)),
            st.integers(0, 10**8),
            st.integers(0, 20),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 40),
)
def test_fair_value_after_stripping_rate_zeros(cases, shift: int) -> None:
    """amount x rate / 10**shift (the fair value formula) with the rate's trailing zeros
    cancelled first, as fair_values does: the same half-even result."""
    amount = np.array([c[0] for c in cases], dtype=object)
    rates = np.array([c[1] * 10 ** c[2] for c in cases], dtype=object)
    zeros, mantissa = strip_pow10(rates, shift)
    assert (zeros <= shift).all()
    assert [m * 10 ** int(z) for m, z in zip(mantissa, zeros, strict=True)] == rates.tolist()
    got = mul_div_half_even(amount, mantissa, pow10(shift - zeros))
    expected = [_reference(int(x), int(r), 10**shift) for x, r in zip(amount, rates, strict=True)]
    assert got.tolist() == expected


def test_strip_pow10_caps_zeros_and_keeps_zero() -> None:
    zeros, mantissa = strip_pow10(np.array([10**18 + 10**14, 0, 7, 10**20], dtype=object), 18)
    assert zeros.tolist() == [14, 18, 0, 18]
    assert mantissa.tolist() == [10**4 + 1, 0, 7, 100]


def test_pow10_int64_and_beyond() -> None:
    assert pow10(np.array([0, 18])).dtype == np.int64
    assert pow10(np.array([0, 18])).tolist() == [1, 10**18]
    assert pow10(np.array([19, 2])).tolist() == [10**19, 100]
    with pytest.raises(ValueError):
        pow10(np.array([-1]))


@SETTINGS
@given(
    st.lists(
        st.one_of(st.integers(-(2**63) + 1, 2**63 - 1), edges.filter(lambda v: abs(v) < I64)),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 18),
)
def test_minor_to_text_int64_point_insert(values: list[int], exp: int) -> None:
    """int64 amounts are formatted by one cast and a point inserted exp digits from the end
    (zero-padded first when a value has no whole digit): the same text as str() per value."""
    pads = [0, 1, 10**exp - 1, 10**exp, -(10**exp) + 1]
    values = values + [v for v in pads if abs(v) < I64]
    got = minor_to_text(np.array(values, dtype=np.int64), np.full(len(values), exp)).tolist()
    assert got == minor_to_str(np.array(values, dtype=object), np.full(len(values), exp))


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.integers(0, 2**64 - 1),
            st.sampled_from([0, I64 - 1, I64, 2**64 - 1, 2**64, -1, -I64]),
            st.integers(-(2**70), 2**70),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_int_text_beyond_int64_is_str(values: list[int]) -> None:
    """Object arrays of Python ints (all in [0, 2**64) take one uint64 cast; any other value
    sends the array through the int64 / big-int split): str() of each value either way."""
    assert int_text(np.array(values, dtype=object)).to_pylist() == [str(v) for v in values]
