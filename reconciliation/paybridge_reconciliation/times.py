"""Timestamps as naive-UTC numpy datetime64[us], so comparisons stay vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd


def utc_naive(series: pd.Series) -> np.ndarray:
    values = pd.Series(series)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[us]")
