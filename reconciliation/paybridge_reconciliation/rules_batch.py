"""Rule 3, one transfer paying several invoices of one customer: bounded subset sum.

Targets are an overpayment at a request's own address, or money at a settled address that no
single open request explains. The search is capped: at most `subset_max_candidates` open
requests per target (oldest first) and subsets of at most `subset_max_size`, so it cannot
explode (Oracle caps its sum rules at 750 candidates for the same reason).

Vectorised: targets are expanded against their (customer, chain, asset) block of open requests,
and all targets with the same candidate count are checked at once as one integer matrix product
(candidates x subset masks). Sums stay exact: int64 when they cannot overflow, otherwise each
amount is split into two int64 limbs (high and low bits) whose sums are compared with carry.
Targets in very large blocks, or beyond what two limbs hold, take the per-target path.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import as_object
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.rules_reuse import open_requests

if TYPE_CHECKING:
    from paybridge_reconciliation.chain_order import ChainOrderReceipts

BLOCK_MAX = 64  # blocks above this many open requests take the per-target path
CHUNK_CELLS = 2**21  # targets x subsets per matrix product (about 16 MB per int64 product)


@lru_cache(maxsize=256)
def subset_masks(n: int, min_size: int, max_size: int) -> np.ndarray:
    """All subsets of n items with min_size..max_size members, as a 0/1 matrix (rows sorted)."""
    rows = [
        [1 if i in combo else 0 for i in range(n)]
        for size in range(min_size, min(max_size, n) + 1)
        for combo in combinations(range(n), size)
    ]
    return np.array(rows, dtype=np.int64).reshape(len(rows), n)


def _limb_shift(max_size: int) -> int:
    """Bits in the low limb so that sums of max_size limbs of either kind fit int64."""
    return 62 - int(max_size).bit_length()


def _subset_hits(
    values: np.ndarray, targets: np.ndarray, masks: np.ndarray, max_size: int
) -> np.ndarray:
    """hits[t, s]: subset s of row t's candidates sums exactly to targets[t] (exact ints)."""
    biggest = int(max(targets.max(), values.max())) if len(targets) else 0
    if biggest * max_size < 2**63:
        sums = values.astype(np.int64) @ masks.T
        return sums == targets.astype(np.int64)[:, None]
    shift = _limb_shift(max_size)
    low_mask = (1 << shift) - 1
    v = as_object(values)
    t = as_object(targets)
    v_hi, v_lo = (v >> shift).astype(np.int64), (v & low_mask).astype(np.int64)
    t_hi, t_lo = (t >> shift).astype(np.int64), (t & low_mask).astype(np.int64)
    lo = v_lo @ masks.T
    hi = v_hi @ masks.T + (lo >> shift)
    return (hi == t_hi[:, None]) & ((lo & low_mask) == t_lo[:, None])


def _block_codes(*columns: np.ndarray) -> np.ndarray:
    """Dense codes of the (customer, chain, asset) tuples, via one packed int64 key."""
    if len(columns[0]) == 0:
        return np.zeros(0, dtype=np.int64)
    key = np.zeros(len(columns[0]), dtype=np.int64)
    width = 1
    for column in columns:
        codes, uniques = pd.factorize(column)
        width *= len(uniques)
        if width >= 2**62:
            frame = pd.DataFrame({str(i): c for i, c in enumerate(columns)})
            return pd.MultiIndex.from_frame(frame).factorize()[0].astype(np.int64)
        key = key * len(uniques) + codes
    return pd.factorize(key)[0].astype(np.int64)


def find_batches(
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    target_rows: np.ndarray,
    target_amounts: np.ndarray,
    target_min_size: np.ndarray,
    ri: np.ndarray,
    due: np.ndarray,
    paid: np.ndarray,
    tol: np.ndarray,
    config: ReconConfig,
) -> pd.DataFrame:
    n_targets = len(target_rows)
    owners = ri[target_rows]
    customers = rq["cust_code"].to_numpy()[owners].astype(np.int64)
    chains = rc["chain_id"].to_numpy()[target_rows].astype(np.int64)
    assets = rc["asset_code"].to_numpy()[target_rows].astype(np.int64)
    opens = open_requests(rq, due, paid, tol, pd.unique(customers))
    # one block per (customer, chain, asset), oldest first inside (ri follows request_id)
    block_of = _block_codes(
        np.concatenate([opens["cust_code"].to_numpy(np.int64), customers]),
        np.concatenate([opens["chain_id"].to_numpy(np.int64), chains]),
        np.concatenate([opens["asset_code"].to_numpy(np.int64), assets]),
    )
    open_block, target_block = block_of[: len(opens)], block_of[len(opens) :]
    order = np.lexsort(
        [
            opens["ri"].to_numpy(np.int64),
            opens["created_at"].to_numpy().astype(np.int64),
            open_block,
        ]
    )
    open_ri = opens["ri"].to_numpy(np.int64)[order]
    open_remaining = as_object(opens["remaining"].to_numpy(dtype=object))[order]
    open_block = open_block[order]
    n_blocks = int(block_of.max()) + 1 if len(block_of) else 0
    block_size = np.bincount(open_block, minlength=n_blocks)
    block_start = np.concatenate([[0], np.cumsum(block_size)[:-1]]).astype(np.int64)
    size = block_size[target_block] if n_targets else np.zeros(0, np.int64)
    start = block_start[target_block] if n_targets else np.zeros(0, np.int64)
    amounts = as_object(np.asarray(target_amounts, dtype=object))
    min_size = np.asarray(target_min_size, dtype=np.int64)
    max_size = config.subset_max_size
    shift = _limb_shift(max_size)
    too_big = np.asarray(amounts >= (1 << (2 * shift)), dtype=bool) if n_targets else size > 0
    slow = (size > BLOCK_MAX) | too_big
    fast = np.flatnonzero((size > 0) & ~slow)

    out_k: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    out_ri: list[np.ndarray] = []
    out_amount: list[np.ndarray] = []
    out_tie: list[np.ndarray] = []

    # expand fast targets against their blocks, keep the first subset_max_candidates that fit
    pair_t = np.repeat(fast, size[fast])
    first = np.repeat(np.cumsum(size[fast]) - size[fast], size[fast])
    within = np.arange(len(pair_t)) - first
    pair_o = start[pair_t] + within
    keep = (open_ri[pair_o] != owners[pair_t]) & np.asarray(
        open_remaining[pair_o] <= amounts[pair_t], dtype=bool
    )
    pair_t, pair_o = pair_t[keep], pair_o[keep]
    seg_start = np.r_[True, pair_t[1:] != pair_t[:-1]] if len(pair_t) else np.zeros(0, bool)
    seg_first = np.maximum.accumulate(np.where(seg_start, np.arange(len(pair_t)), 0))
    rank = np.arange(len(pair_t)) - seg_first
    keep = rank < config.subset_max_candidates
    pair_t, pair_o, rank = pair_t[keep], pair_o[keep], rank[keep]
    count = np.bincount(pair_t, minlength=n_targets)
    for k in np.unique(count[count > 0]).tolist():
        for m in np.unique(min_size[(count == k)]).tolist():
            rows = np.flatnonzero((count == k) & (min_size == m))
            if k < m or len(rows) == 0:
                continue
            masks = subset_masks(k, int(m), max_size)
            if masks.shape[0] == 0:
                continue
            # candidate matrix: pairs of these targets, in (target, rank) order
            sel = np.flatnonzero(np.isin(pair_t, rows))
            cand_o = pair_o[sel].reshape(len(rows), k)
            chunk = max(1, CHUNK_CELLS // masks.shape[0])
            for lo in range(0, len(rows), chunk):
                part = slice(lo, lo + chunk)
                hits = _subset_hits(
                    open_remaining[cand_o[part]], amounts[rows[part]], masks, max_size
                )
                n_hits = hits.sum(axis=1)
                chosen = (hits.astype(np.int64) @ masks) > 0
                t_idx, j_idx = np.nonzero(chosen)
                o_idx = cand_o[part][t_idx, j_idx]
                out_k.append(rows[part][t_idx])
                out_j.append(j_idx.astype(np.int64))
                out_ri.append(open_ri[o_idx])
                out_amount.append(open_remaining[o_idx])
                out_tie.append(n_hits[t_idx] > 1)

    # per-target path: huge blocks (bounded by the candidate cap) and amounts beyond two limbs
    for k in np.flatnonzero(slow & (size > 0)).tolist():
        block = slice(int(start[k]), int(start[k] + size[k]))
        target = int(amounts[k])
        cand_ri = open_ri[block]
        cand_rem = open_remaining[block]
        keep = (cand_ri != owners[k]) & np.asarray(cand_rem <= target, dtype=bool)
        cand_ri = cand_ri[keep][: config.subset_max_candidates]
        cand_rem = cand_rem[keep][: config.subset_max_candidates]
        if len(cand_ri) < min_size[k]:
            continue
        masks = subset_masks(len(cand_ri), int(min_size[k]), max_size)
        if masks.shape[0] == 0:
            continue
        hits = np.flatnonzero((masks.astype(object) @ cand_rem) == target)
        if len(hits) == 0:
            continue
        chosen = np.flatnonzero(masks[hits].any(axis=0))
        out_k.append(np.full(len(chosen), k, dtype=np.int64))
        out_j.append(chosen.astype(np.int64))
        out_ri.append(cand_ri[chosen])
        out_amount.append(cand_rem[chosen])
        out_tie.append(np.full(len(chosen), len(hits) > 1))

    if not out_k:
        return _frame(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object), [], config)
    k_all, j_all = np.concatenate(out_k), np.concatenate(out_j)
    order = np.lexsort([j_all, k_all])  # target order, then candidate order (as a loop would)
    return _frame(
        np.asarray(target_rows, dtype=np.int64)[k_all[order]],
        np.concatenate(out_ri)[order],
        as_object(np.concatenate(out_amount).astype(object))[order],
        np.concatenate(out_tie)[order],
        config,
    )


def _frame(
    rpos: np.ndarray, ri: np.ndarray, amount: np.ndarray, tie: np.ndarray, config: ReconConfig
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rpos": np.asarray(rpos, dtype=np.int64),
            "ri": np.asarray(ri, dtype=np.int64),
            "amount": np.asarray(amount, dtype=object),
            "confidence": np.full(len(rpos), config.confidence.batch),
            "tie": np.asarray(tie, dtype=bool),
        }
    )


def tie_contested(batch: pd.DataFrame, auto_band: float) -> pd.DataFrame:
    """A receipt whose automatic batch shares a request with another receipt's has all its
    candidates made ties: which transfer paid that invoice is for a person to choose."""
    auto = batch[(batch["confidence"] >= auto_band) & ~batch["tie"]]
    contested = auto["ri"].duplicated(keep=False)
    bad_receipts = set(auto.loc[contested, "rpos"].tolist())
    return batch.assign(tie=batch["tie"] | batch["rpos"].isin(bad_receipts))
