"""Gathering a pandas column by position, as publishing and the rules do."""

from __future__ import annotations

import numpy as np
import pandas as pd


def take(series: pd.Series, idx: np.ndarray) -> pd.Series:
    """``series`` at positions ``idx``, indexed from 0."""
    return series.take(np.asarray(idx, dtype=np.int64)).reset_index(drop=True)
