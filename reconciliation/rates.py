"""As-of rate lookup: the latest rate at or before a receipt's block time (merge_asof)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconciliation.amounts import as_object
from reconciliation.times import utc_naive

RATE_FIELDS = ["rate_scaled", "rate_text", "decimals", "source", "valid_from"]


def lookup_rates(
    keys: pd.DataFrame, rates: pd.DataFrame | None, currency_column: str, time_column: str
) -> pd.DataFrame:
    """For each row of keys (chain_id, asset, currency, time) the applicable rate, aligned.

    Rows without a rate get rate_scaled None and source ''. Vectorised: one sort + merge_asof.
    """
    n = len(keys)
    empty = pd.DataFrame(
        {
            "rate_scaled": np.full(n, None, dtype=object),
            "rate_text": np.full(n, "", dtype=object),
            "decimals": np.full(n, -1, dtype=np.int64),
            "source": np.full(n, "", dtype=object),
            "valid_from": pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]"),
        }
    )
    if rates is None or len(rates) == 0 or n == 0:
        return empty
    left = pd.DataFrame(
        {
            "chain_id": keys["chain_id"].to_numpy(np.int64),
            "asset": keys["asset"].astype("str").to_numpy(),
            "currency": keys[currency_column].astype("str").to_numpy(),
            "at": utc_naive(keys[time_column]),
            "row": np.arange(n),
        }
    )
    left = left.assign(
        asset=left["asset"].astype("str"),
        currency=left["currency"].astype("str"),
    ).sort_values("at", kind="stable")
    right = rates.assign(at=utc_naive(rates["valid_from"])).drop(columns="valid_from")
    right = right.sort_values("at", kind="stable")
    right = right.assign(valid_from=right["at"], asset=right["asset"].astype("str"))
    right = right.assign(
        currency=right["currency"].astype("str"),
        rate_scaled=as_object(right["rate_scaled"]),
        decimals=right["decimals"].astype(object),
    )
    merged = pd.merge_asof(
        left, right, on="at", by=["chain_id", "asset", "currency"], direction="backward"
    ).sort_values("row")
    found = merged["source"].notna().to_numpy()
    out = empty.copy()
    scaled = out["rate_scaled"].to_numpy(dtype=object).copy()
    scaled[found] = merged["rate_scaled"].to_numpy(dtype=object)[found]
    out["rate_scaled"] = scaled
    out.loc[found, "rate_text"] = merged["rate_text"].to_numpy(dtype=object)[found]
    out.loc[found, "decimals"] = merged["decimals"].to_numpy()[found].astype(np.int64)
    out.loc[found, "source"] = merged["source"].to_numpy(dtype=object)[found]
    out.loc[found, "valid_from"] = merged["valid_from"].to_numpy()[found]
    return out
