"""Integers <-> exact decimal text, vectorised with pyarrow (e.g. 1230, 2 <-> '12.30').

Values that fit int64 (nearly all fiat minor units, most token amounts) are formatted by Arrow
casts and integer arithmetic; only Python ints beyond int64 go through `str()`. The text is
built as Arrow arrays and wrapped once, so no per-row Python string objects are created.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import as_object, small_ints

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _as_series(text: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(text.cast(pa.large_string()), dtype="str")


def int_text(values: np.ndarray) -> pa.Array:
    """Exact decimal text of integers (int64, or an object array of Python ints)."""
    arr = small_ints(np.asarray(values))
    if arr.dtype != object:
        return pc.cast(pa.array(arr.astype(np.int64)), pa.large_string())
    try:  # all in [0, 2**64) (token amounts just beyond int64): one C cast, no comparisons
        return _uint64_text(arr)
    except (OverflowError, TypeError):  # a negative value or one of 2**64 and more
        pass
    # amounts are not negative, and those beyond int64 nearly all below 2**64: a uint64 cast
    in_uint64 = np.asarray((arr >= 0) & (arr < 2**64), dtype=bool)
    return _split_text(arr, in_uint64, _uint64_text, _signed_text)


def _uint64_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values.astype(np.uint64)), pa.large_string())


def _signed_text(arr: np.ndarray) -> pa.Array:
    """Text of Python ints: int64 ones by an Arrow cast, the others by ``_big_int_text``."""
    fits = np.asarray((arr <= INT64_MAX) & (arr >= INT64_MIN), dtype=bool)
    return _split_text(
        arr, fits, lambda v: pc.cast(pa.array(v.astype(np.int64)), pa.large_string()), _big_int_text
    )


def _split_text(
    arr: np.ndarray,
    inside: np.ndarray,
    format_inside: Callable[[np.ndarray], pa.Array],
    format_outside: Callable[[np.ndarray], pa.Array],
) -> pa.Array:
    """Text of each value, the rows ``inside`` and the others formatted apart, in row order."""
    small_rows = np.flatnonzero(inside)
    big_rows = np.flatnonzero(~inside)
    small = format_inside(arr[small_rows])
    big = format_outside(arr[big_rows])
    inverse = np.empty(len(arr), dtype=np.int64)
    inverse[np.concatenate([small_rows, big_rows])] = np.arange(len(arr))
    return pa.concat_arrays([small, big]).take(pa.array(inverse))


def _big_int_text(values: np.ndarray) -> pa.Array:
    """Decimal text of Python ints beyond int64: split (C loops over the object array) into
    int64 halves of 18 digits that Arrow formats; only values of 37+ digits use ``str``."""
    negative = np.asarray(values < 0, dtype=bool)
    magnitude = np.where(negative, -values, values)
    mid = np.asarray(magnitude < 10**36, dtype=bool)
    rows = np.flatnonzero(mid)
    high = pc.cast(pa.array((magnitude[rows] // 10**18).astype(np.int64)), pa.large_string())
    low = pc.cast(pa.array((magnitude[rows] % 10**18).astype(np.int64)), pa.large_string())
    text_mid = pc.binary_join_element_wise(
        high, pc.utf8_lpad(low, width=18, padding="0"), pa.scalar("", pa.large_string())
    )
    rest = np.flatnonzero(~mid)
    text_rest = pa.array([str(v) for v in magnitude[rest].tolist()], pa.large_string())
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[np.concatenate([rows, rest])] = np.arange(len(values))
    text = pa.concat_arrays([text_mid, text_rest]).take(pa.array(inverse))
    if not negative.any():
        return text
    signed = pc.binary_join_element_wise(
        pa.scalar("-", pa.large_string()), text, pa.scalar("", pa.large_string())
    )
    return pc.if_else(pa.array(negative), signed, text)


def int_text_series(values: np.ndarray) -> pd.Series:
    return _as_series(int_text(values))


def _digits(magnitude: np.ndarray) -> pa.Array:
    return int_text(magnitude)


def _with_point(digits: pa.Array, exp: int) -> pa.Array:
    if exp == 0:
        return digits
    padded = pc.utf8_lpad(digits, width=exp + 1, padding="0")
    whole = pc.utf8_slice_codeunits(padded, 0, -exp)
    frac = pc.utf8_slice_codeunits(padded, -exp)
    return pc.binary_join_element_wise(whole, frac, pa.scalar(".", pa.large_string()))


def _with_point_int64(magnitude: np.ndarray, exp: int) -> pa.Array:
    """Same text as `_with_point` for non-negative int64 values, by integer arithmetic."""
    text = pc.cast(pa.array(magnitude), pa.large_string())
    if exp == 0:
        return text
    if len(magnitude) and bool((magnitude < 10**exp).any()):
        text = pc.utf8_lpad(text, width=exp + 1, padding="0")  # at least one whole digit
    # the point goes exp digits from the end (ASCII digits: byte positions are characters);
    # one cast and one insert (splitting at 10**exp took two casts and a join: ~3x the time)
    return pc.binary_replace_slice(text, start=-exp, stop=-exp, replacement=".")


def _fixed(magnitude: np.ndarray, exp: int) -> pa.Array:
    if magnitude.dtype != object and exp <= 18:
        return _with_point_int64(magnitude.astype(np.int64, copy=False), exp)
    return _with_point(_digits(magnitude), exp)


def minor_to_text(minor: np.ndarray, exponents: np.ndarray) -> pd.Series:
    values = small_ints(np.asarray(minor))
    if values.dtype != object and len(values) and int(values.min()) == INT64_MIN:
        values = values.astype(object)  # its magnitude does not fit int64
    n = len(values)
    if n == 0:
        return pd.Series([], dtype="str")
    negative = np.asarray(values < 0, dtype=bool)
    magnitude = np.where(negative, -values, values) if negative.any() else values
    magnitude = np.asarray(magnitude)
    exps = np.asarray(exponents, dtype=np.int64)
    # one currency exponent (the usual case): min == max, no sort of millions of exponents
    low, high = int(exps.min()), int(exps.max())
    unique = np.array([low]) if low == high else np.unique(exps)
    if len(unique) == 1:
        text = _fixed(magnitude, int(unique[0]))
    else:
        groups = [np.flatnonzero(exps == e) for e in unique.tolist()]
        parts = [
            _fixed(magnitude[sel], int(e)) for sel, e in zip(groups, unique.tolist(), strict=True)
        ]
        order = np.concatenate(groups)
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        text = pa.concat_arrays(parts).take(pa.array(inverse))
    if negative.any():
        signed = pc.binary_join_element_wise(
            pa.scalar("-", pa.large_string()), text, pa.scalar("", pa.large_string())
        )
        text = pc.if_else(pa.array(negative), signed, text)
    return _as_series(text)


DECIMAL128_DIGITS = 38


def decimal_widths(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Characters before the point (all of them when there is none) and after it, per cell."""
    length = np.asarray(pc.utf8_length(text), dtype=np.int64)
    point = np.asarray(pc.find_substring(text, "."), dtype=np.int64)
    has_point = point >= 0
    return np.where(has_point, point, length), np.where(has_point, length - point - 1, 0)


def decimal_units(
    text: pa.Array | pa.ChunkedArray,
    exp: int,
    widths: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Non-negative decimal text (``^[0-9]+(\\.[0-9]+)?$``, at most ``exp`` decimals, checked by
    the caller) as integers in units of 10**-exp: int64 when every value fits, else Python ints.
    ``widths``: the text's `decimal_widths`, when the caller has them already.

    Arrow's decimal128 cast parses and scales in C; a decimal128's unscaled value is the
    integer sought, read from its two 64-bit words. Cells that would need more than 38 digits
    (as written, or once scaled) are parsed one at a time: Arrow's cast does not refuse text of
    more than 38 digits, it wraps around. Why: splitting at the point, padding and joining the
    digits cost about 0.5 s per million invoice amounts."""
    whole, decimals = widths if widths is not None else decimal_widths(text)
    castable = (whole + decimals <= DECIMAL128_DIGITS) & (whole + exp <= DECIMAL128_DIGITS)
    if castable.all():
        return _cast_units(text, exp)
    out = np.empty(len(text), dtype=object)
    out[castable] = _cast_units(pc.filter(text, pa.array(castable)), exp)
    rest = pc.filter(text, pa.array(~castable)).to_pylist()
    out[~castable] = [_one_unit(cell, exp) for cell in rest]
    return out


def _cast_units(text: pa.Array | pa.ChunkedArray, exp: int) -> np.ndarray:
    """`decimal_units` of cells of at most 38 digits, scaled too (by Arrow's cast)."""
    scaled = pc.cast(text, pa.decimal128(DECIMAL128_DIGITS, exp))
    chunks = scaled.chunks if isinstance(scaled, pa.ChunkedArray) else [scaled]
    words = [
        np.frombuffer(c.buffers()[1], dtype="<i8")[2 * c.offset : 2 * (c.offset + len(c))]
        for c in chunks
        if len(c)
    ]
    both = np.concatenate(words).reshape(-1, 2) if words else np.zeros((0, 2), np.int64)
    low, high = both[:, 0], both[:, 1]
    beyond = (high != 0) | (low < 0)  # 2**63 and more (the values are not negative)
    if not beyond.any():
        return low.copy()
    out = low.astype(object)
    rows = np.flatnonzero(beyond)  # high * 2**64 + low read as unsigned
    out[rows] = as_object(high[rows]) * 2**64 + low[rows].view(np.uint64).astype(object)
    return out


def _one_unit(cell: str, exp: int) -> int:
    whole, _, frac = cell.partition(".")
    return int(whole + frac.ljust(exp, "0"))
