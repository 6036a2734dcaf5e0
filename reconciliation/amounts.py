"""Exact integer amount columns: int64 where a whole column (and its sums) fits, else Python ints.

Measured on 1M rows (this machine): int64 groupby-sum 0.08 s, object (Python int) groupby-sum
0.12 s, object cumsum 0.04 s, object multiply/floor-divide ~0.05 s. So products (amount x rate),
which overflow int64 for 18-decimal tokens, always run on object arrays; plain sums and
comparisons stay int64 when the column is small enough that no sum can overflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INT64_SUM_SAFE = 2**63 - 1


def fits_int64_sums(values: np.ndarray) -> bool:
    """True when the sum of all absolute values fits int64 (so every group sum does too)."""
    if len(values) == 0:
        return True
    if values.dtype == object:
        total = max(abs(int(values.max())), abs(int(values.min()))) * len(values)
    else:
        biggest = int(np.abs(values).max())
        total = biggest * len(values)
    return total <= INT64_SUM_SAFE


def exact_ints(values: np.ndarray) -> np.ndarray:
    """int64 if every sum over the column fits, else an object array of Python ints."""
    if values.dtype != object:
        if fits_int64_sums(values):
            return values.astype(np.int64)
        return values.astype(object)
    if fits_int64_sums(values):
        return values.astype(np.int64)
    return values


def as_object(values: np.ndarray | pd.Series) -> np.ndarray:
    """Python-int object array, for products that may exceed int64."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else values
    if arr.dtype == object:
        return arr
    return arr.astype(np.int64).astype(object)


def unify(*arrays: np.ndarray) -> list[np.ndarray]:
    """Same dtype for arrays combined together: object if any is object."""
    if any(a.dtype == object for a in arrays):
        return [as_object(a) for a in arrays]
    return [a.astype(np.int64) for a in arrays]


def group_sum(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Exact per-group sum for group codes 0..n_groups-1 (codes need not be sorted)."""
    if values.dtype != object:
        out = np.zeros(n_groups, dtype=np.int64)
        np.add.at(out, codes, values)
        return out
    out = np.zeros(n_groups, dtype=object)
    out[:] = 0
    np.add.at(out, codes, values)
    return out


def sorted_group_cumsum_before(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Sum of earlier values in the same group; rows must be sorted by group code."""
    n = len(values)
    if n == 0:
        return values.copy()
    if values.dtype != object:
        series = pd.Series(values)
        return (series.groupby(codes, sort=False).cumsum() - series).to_numpy(np.int64)
    running = np.cumsum(values)
    starts = np.r_[True, codes[1:] != codes[:-1]]
    group_start_index = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    base = running[group_start_index] - values[group_start_index]
    return running - values - base


def div_round_half_even(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """Exact integer division rounded half to even (banker's rounding, as Decimal does)."""
    num = as_object(numerator)
    den = denominator if isinstance(denominator, int) else as_object(denominator)
    quotient = num // den
    remainder = num - quotient * den
    twice = remainder * 2
    round_up = (twice > den) | ((twice == den) & (quotient % 2 == 1))
    return quotient + round_up.astype(np.int64).astype(object)


def div_ceil(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    num = as_object(numerator)
    den = denominator if isinstance(denominator, int) else as_object(denominator)
    return -((-num) // den)


def minor_to_str(minor: np.ndarray, exponents: np.ndarray) -> list[str]:
    """Integer minor units -> fixed-point strings with the currency exponent ('-12.30')."""
    out: list[str] = []
    for value, exp in zip(minor.tolist(), exponents.tolist(), strict=True):
        sign = "-" if value < 0 else ""
        digits = str(abs(int(value)))
        exp = int(exp)
        if exp == 0:
            out.append(sign + digits)
            continue
        digits = digits.rjust(exp + 1, "0")
        out.append(f"{sign}{digits[:-exp]}.{digits[-exp:]}")
    return out


def small_ints(values: np.ndarray) -> np.ndarray:
    """int64 view of an object int array when every value fits (fast formatting paths)."""
    if values.dtype != object or len(values) == 0:
        return values
    try:
        return values.astype(np.int64)
    except (OverflowError, TypeError):
        return values
