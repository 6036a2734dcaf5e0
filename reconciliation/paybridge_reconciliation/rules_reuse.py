"""Rule 2, address reuse: money at a settled (or long-expired) address of a customer is matched
to that customer's other open requests on the same chain and asset, by amount.

AP departments save deposit addresses and pay the next invoice to the old one. Candidates are
blocked by (customer, chain, asset) with one hash merge, gated by amount (exact, or short within
the candidate's tolerance) and scored; the best score per receipt wins, and equal best scores
are a tie (never auto-applied).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import as_object
from paybridge_reconciliation.config import Confidence
from paybridge_reconciliation.times import utc_naive

if TYPE_CHECKING:
    from paybridge_reconciliation.chain_order import ChainOrderReceipts

EMPTY = pd.DataFrame(
    {
        "rpos": np.zeros(0, np.int64),
        "ri": np.zeros(0, np.int64),
        "confidence": np.zeros(0),
        "tie": np.zeros(0, bool),
    }
)


def open_requests(
    rq: pd.DataFrame,
    due: np.ndarray,
    paid: np.ndarray,
    tol: np.ndarray,
    customers: np.ndarray | None = None,
) -> pd.DataFrame:
    """Requests with more than their tolerance still owed, with that remaining amount
    (only those of `customers`, codes, when given)."""
    rows = np.arange(len(rq))
    if customers is not None:
        cust_code = rq["cust_code"].to_numpy()
        wanted = np.zeros(int(cust_code.max()) + 1 if len(cust_code) else 0, dtype=bool)
        wanted[np.asarray(customers, dtype=np.int64)] = True
        rows = np.flatnonzero(wanted[cust_code])
    remaining = as_object(np.asarray(due)[rows]) - as_object(np.asarray(paid)[rows])
    tol_rows = as_object(np.asarray(tol)[rows])
    is_open = np.asarray(remaining > tol_rows, dtype=bool)
    idx = rows[is_open]
    return pd.DataFrame(
        {
            "ri": idx,
            "cust_code": rq["cust_code"].to_numpy()[idx],
            "chain_id": rq["chain_id"].to_numpy()[idx],
            "asset_code": rq["asset_code"].to_numpy()[idx],
            "remaining": remaining[is_open],
            "tol": tol_rows[is_open],
            "expires_at": utc_naive(rq["expires_at"])[idx],
            "created_at": utc_naive(rq["created_at"])[idx],
        }
    )


def find_reuse_candidates(
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    pool_rows: np.ndarray,
    ri: np.ndarray,
    due: np.ndarray,
    paid: np.ndarray,
    tol: np.ndarray,
    conf: Confidence,
) -> pd.DataFrame:
    owner = ri[pool_rows]
    pool = pd.DataFrame(
        {
            "rpos": pool_rows,
            "owner": owner,
            "cust_code": rq["cust_code"].to_numpy()[owner],
            "chain_id": rc["chain_id"].to_numpy()[pool_rows],
            "asset_code": rc["asset_code"].to_numpy()[pool_rows],
            "amount": as_object(rc["amount"].to_numpy()[pool_rows]),
            "block_time": utc_naive(rc["block_time"])[pool_rows],
        }
    )
    opens = open_requests(rq, due, paid, tol, pd.unique(pool["cust_code"].to_numpy()))
    cand = pool.merge(opens, on=["cust_code", "chain_id", "asset_code"], how="inner")
    cand = cand[cand["ri"] != cand["owner"]]
    if cand.empty:
        return EMPTY.copy()
    amount = cand["amount"].to_numpy(dtype=object)
    remaining = cand["remaining"].to_numpy(dtype=object)
    short = remaining - amount
    ok = (short >= 0) & (short <= cand["tol"].to_numpy(dtype=object))
    cand = cand[ok]
    if cand.empty:
        return EMPTY.copy()
    exact = cand["amount"].to_numpy(dtype=object) == cand["remaining"].to_numpy(dtype=object)
    score = np.where(exact, conf.address_reuse_exact, conf.address_reuse_tolerance)
    stale = cand["block_time"].to_numpy() > cand["expires_at"].to_numpy()
    score = np.where(stale, np.minimum(score, conf.reuse_after_quote_expiry), score)
    cand = cand.assign(confidence=score)
    best = cand.groupby("rpos")["confidence"].transform("max")
    cand = cand[cand["confidence"] == best]
    tie = cand.groupby("rpos")["ri"].transform("size") > 1
    out = pd.DataFrame(
        {
            "rpos": cand["rpos"].to_numpy(np.int64),
            "ri": cand["ri"].to_numpy(np.int64),
            "confidence": cand["confidence"].to_numpy(float),
            "tie": tie.to_numpy(bool),
        }
    )
    return out.sort_values(["rpos", "ri"], kind="stable").reset_index(drop=True)


def tie_contested(reuse: pd.DataFrame, auto_band: float) -> pd.DataFrame:
    """Candidates that would each be applied automatically to the same request are all ties:
    two receipts cannot both be that request's missing payment without a person choosing."""
    eligible = (reuse["confidence"] >= auto_band) & ~reuse["tie"]
    claimed = reuse.loc[eligible, "ri"]
    contested = eligible & reuse["ri"].isin(claimed[claimed.duplicated()])
    return reuse.assign(tie=reuse["tie"] | contested)
