"""As-of rate lookup: the latest rate at or before a receipt's block time.

Vectorised: the (chain, asset, currency) of both sides become one integer block code, rates
are sorted by (block, valid_from) once, and every key finds its rate with one binary search
(`searchsorted`) - the same answer as a backward `merge_asof` by block, without string joins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import as_object
from paybridge_reconciliation.times import utc_naive

RATE_FIELDS = ["rate_scaled", "rate_text", "decimals", "source", "valid_from"]


def _codes(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Shared integer codes for the values of two columns (factorized together). A Categorical
    ``left`` (keys coded by the caller) keeps its codes; only the small ``right`` is coded."""
    if isinstance(left.dtype, pd.CategoricalDtype):
        categories = left.cat.categories
        right_codes = categories.get_indexer(right.astype(categories.dtype)).astype(np.int64)
        unseen = right_codes < 0
        extra, extra_values = pd.factorize(right[unseen])
        right_codes[unseen] = len(categories) + extra
        left_codes = left.cat.codes.to_numpy(np.int64)
        return left_codes, right_codes, len(categories) + len(extra_values)
    both = pd.concat([left.reset_index(drop=True), right.reset_index(drop=True)], ignore_index=True)
    codes, uniques = pd.factorize(both)
    return codes[: len(left)].astype(np.int64), codes[len(left) :].astype(np.int64), len(uniques)


def _text(values: pd.Series, idx: np.ndarray, found: np.ndarray) -> pd.Series:
    """values[idx] where found, else '' (one Arrow take, no Python strings)."""
    source = pa.array(values.astype("str")).cast(pa.large_string())
    picked = pc.take(source, pa.array(np.where(found, idx, 0), mask=~found))
    return pd.Series(pc.fill_null(picked, ""), dtype="str")


def _text_or_coded(values: pd.Series) -> pd.Series:
    return values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("str")


def lookup_rates(
    keys: pd.DataFrame, rates: pd.DataFrame | None, currency_column: str, time_column: str
) -> pd.DataFrame:
    """For each row of keys (chain_id, asset, currency, time) the applicable rate, aligned.

    Rows without a rate get rate_scaled None and source ''. The asset and currency keys may be
    Categoricals of text (coded once by the caller, not hashed again here).
    """
    n = len(keys)
    if rates is None or len(rates) == 0 or n == 0:
        return pd.DataFrame(
            {
                "rate_scaled": np.full(n, None, dtype=object),
                "rate_text": np.full(n, "", dtype=object),
                "decimals": np.full(n, -1, dtype=np.int64),
                "source": np.full(n, "", dtype=object),
                "valid_from": pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]"),
                "rate_row": np.full(n, -1, dtype=np.int64),
            }
        )
    left_chain, right_chain, n_chain = _codes(
        pd.Series(keys["chain_id"].to_numpy(np.int64)),
        pd.Series(rates["chain_id"].to_numpy(np.int64)),
    )
    left_asset, right_asset, n_asset = _codes(_text_or_coded(keys["asset"]), rates["asset"])
    left_cur, right_cur, n_cur = _codes(_text_or_coded(keys[currency_column]), rates["currency"])
    left_block = (left_chain * n_asset + left_asset) * n_cur + left_cur
    right_block = (right_chain * n_asset + right_asset) * n_cur + right_cur
    left_at = utc_naive(keys[time_column]).astype(np.int64)
    right_at = utc_naive(rates["valid_from"]).astype(np.int64)
    order = np.lexsort([right_at, right_block])  # by block, then valid_from (stable)
    sorted_block, sorted_at = right_block[order], right_at[order]
    # position of the last rate with (block, valid_from) <= (key block, key time): the keys
    # grouped by block, each block's rates found once. Blocks are few: as int16, numpy's
    # stable sort is a radix sort (about 4x faster than sorting int64 at 1M keys)
    pos = np.empty(n, dtype=np.int64)
    small = n_chain * n_asset * n_cur <= np.iinfo(np.int16).max
    by_block = np.argsort(left_block.astype(np.int16) if small else left_block, kind="stable")
    cuts = np.flatnonzero(np.diff(left_block[by_block])) + 1
    for rows in np.split(by_block, cuts):  # one search per (chain, asset, currency) block
        block = left_block[rows[0]]
        lo = int(np.searchsorted(sorted_block, block, side="left"))
        hi = int(np.searchsorted(sorted_block, block, side="right"))
        found_at = lo + np.searchsorted(sorted_at[lo:hi], left_at[rows], side="right") - 1
        pos[rows] = np.where(found_at >= lo, found_at, -1)
    found = pos >= 0
    idx = np.where(found, order[np.where(found, pos, 0)], 0)
    scaled = as_object(rates["rate_scaled"].to_numpy())
    valid_from = utc_naive(rates["valid_from"])
    return pd.DataFrame(
        {
            "rate_scaled": np.where(found, scaled[idx], None),
            "rate_text": _text(rates["rate_text"], idx, found),
            "decimals": np.where(found, rates["decimals"].to_numpy(np.int64)[idx], -1),
            "source": _text(rates["source"], idx, found),
            "valid_from": np.where(found, valid_from[idx], np.datetime64("NaT", "us")),
            "rate_row": np.where(found, idx, -1),  # position in rates (fair values use it)
        }
    )
