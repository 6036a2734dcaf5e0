"""Integer minor units -> fixed-point text, vectorised with pyarrow (e.g. 1230, 2 -> '12.30')."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciliation.amounts import small_ints


def _digits(magnitude: np.ndarray) -> pa.Array:
    if magnitude.dtype == object:
        return pa.array([str(int(v)) for v in magnitude.tolist()], pa.string())
    return pc.cast(pa.array(magnitude.astype(np.int64)), pa.string())


def _with_point(digits: pa.Array, exp: int) -> pa.Array:
    if exp == 0:
        return digits
    padded = pc.utf8_lpad(digits, width=exp + 1, padding="0")
    whole = pc.utf8_slice_codeunits(padded, 0, -exp)
    frac = pc.utf8_slice_codeunits(padded, -exp)
    return pc.binary_join_element_wise(whole, frac, ".")


def minor_to_text(minor: np.ndarray, exponents: np.ndarray) -> pd.Series:
    values = small_ints(np.asarray(minor))
    n = len(values)
    if n == 0:
        return pd.Series([], dtype="str")
    negative = np.asarray(values < 0, dtype=bool)
    magnitude = np.where(negative, -values, values) if negative.any() else values
    digits = _digits(np.asarray(magnitude))
    exps = np.asarray(exponents, dtype=np.int64)
    unique = np.unique(exps)
    if len(unique) == 1:
        text = _with_point(digits, int(unique[0]))
    else:
        groups = [np.flatnonzero(exps == e) for e in unique.tolist()]
        parts = [
            _with_point(pc.take(digits, pa.array(sel)), int(e))
            for sel, e in zip(groups, unique.tolist(), strict=True)
        ]
        order = np.concatenate(groups)
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        text = pa.concat_arrays(parts).take(pa.array(inverse))
    if negative.any():
        signed = pc.binary_join_element_wise(pa.scalar("-"), text, "")
        text = pc.if_else(pa.array(negative), signed, text)
    return pd.Series(text, dtype="str")
