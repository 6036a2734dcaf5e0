"""Rule 3, one transfer paying several invoices of one customer: bounded subset sum.

Targets are rare (an overpayment at a request's own address, or money at a settled address that
no single open request explains), so this is the one step that loops in Python, per target,
with numpy doing the subset sums. The search is capped: at most `subset_max_candidates` open
requests per target (oldest first) and subsets of at most `subset_max_size`, so it cannot
explode (Oracle caps its sum rules at 750 candidates for the same reason).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
import pandas as pd

from reconciliation.amounts import as_object
from reconciliation.config import ReconConfig
from reconciliation.rules_reuse import open_requests


@lru_cache(maxsize=256)
def subset_masks(n: int, min_size: int, max_size: int) -> np.ndarray:
    """All subsets of n items with min_size..max_size members, as a 0/1 matrix (rows sorted)."""
    rows = [
        [1 if i in combo else 0 for i in range(n)]
        for size in range(min_size, min(max_size, n) + 1)
        for combo in combinations(range(n), size)
    ]
    return np.array(rows, dtype=np.int64).reshape(len(rows), n)


def find_batches(
    rq: pd.DataFrame,
    rc: pd.DataFrame,
    target_rows: np.ndarray,
    target_amounts: np.ndarray,
    target_min_size: np.ndarray,
    ri: np.ndarray,
    due: np.ndarray,
    paid: np.ndarray,
    tol: np.ndarray,
    config: ReconConfig,
) -> pd.DataFrame:
    owners = ri[target_rows]
    customers = rq["cust_code"].to_numpy()[owners]
    opens = open_requests(rq, due, paid, tol)
    opens = opens[opens["cust_code"].isin(pd.unique(customers))]
    opens = opens.sort_values(["created_at", "ri"], kind="stable")  # ri follows request_id
    groups = opens.groupby(["cust_code", "chain_id", "asset_code"], sort=False).indices
    open_ri = opens["ri"].to_numpy(np.int64)
    open_remaining = opens["remaining"].to_numpy(dtype=object)
    chains = rc["chain_id"].to_numpy()
    assets = rc["asset_code"].to_numpy()
    out_rpos: list[int] = []
    out_ri: list[int] = []
    out_amount: list[int] = []
    out_tie: list[bool] = []
    for k, row in enumerate(target_rows.tolist()):
        idx = groups.get((int(customers[k]), int(chains[row]), int(assets[row])))
        if idx is None:
            continue
        target = int(target_amounts[k])
        cand_ri = open_ri[idx]
        cand_rem = open_remaining[idx]
        keep = (cand_ri != owners[k]) & (cand_rem <= target)
        cand_ri = cand_ri[keep][: config.subset_max_candidates]
        cand_rem = cand_rem[keep][: config.subset_max_candidates]
        if len(cand_ri) < target_min_size[k]:
            continue
        masks = subset_masks(len(cand_ri), int(target_min_size[k]), config.subset_max_size)
        if masks.shape[0] == 0:
            continue
        if target * config.subset_max_size >= 2**63:
            sums = masks.astype(object) @ cand_rem
        else:
            sums = masks @ cand_rem.astype(np.int64)
        hits = np.flatnonzero(sums == target)
        if len(hits) == 0:
            continue
        chosen = np.flatnonzero(masks[hits].any(axis=0))
        for j in chosen.tolist():
            out_rpos.append(row)
            out_ri.append(int(cand_ri[j]))
            out_amount.append(int(cand_rem[j]))
            out_tie.append(len(hits) > 1)
    return pd.DataFrame(
        {
            "rpos": np.asarray(out_rpos, dtype=np.int64),
            "ri": np.asarray(out_ri, dtype=np.int64),
            "amount": as_object(np.asarray(out_amount, dtype=object)),
            "confidence": np.full(len(out_rpos), config.confidence.batch),
            "tie": np.asarray(out_tie, dtype=bool),
        }
    )
