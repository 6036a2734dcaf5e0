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

from dataclasses import dataclass, field
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


@dataclass
class _Targets:
    """The targets (per target: the request paid at its address, its amount, its smallest
    subset, and its block of candidates as a slice of the open requests: ``start``, ``size``,
    0 for a block with none), and the open requests grouped by (customer, chain, asset)
    block, oldest first inside each."""

    owner: np.ndarray
    amount: np.ndarray  # Python ints
    min_size: np.ndarray
    start: np.ndarray
    size: np.ndarray
    ri: np.ndarray  # per open request
    remaining: np.ndarray  # per open request, Python ints


@dataclass
class _Found:
    """The requests of the subsets found, per target: target index, candidate rank (order
    inside the target's block), request, its remaining amount, and whether the target had
    more than one subset (a tie)."""

    target: list[np.ndarray] = field(default_factory=list)
    rank: list[np.ndarray] = field(default_factory=list)
    ri: list[np.ndarray] = field(default_factory=list)
    amount: list[np.ndarray] = field(default_factory=list)
    tie: list[np.ndarray] = field(default_factory=list)

    def add(
        self,
        target: np.ndarray,
        rank: np.ndarray,
        ri: np.ndarray,
        amount: np.ndarray,
        tie: np.ndarray,
    ) -> None:
        self.target.append(target)
        self.rank.append(rank.astype(np.int64))
        self.ri.append(ri)
        self.amount.append(amount)
        self.tie.append(tie)


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
    """Candidates (rpos, ri, amount, confidence, tie) of every subset of a target's open
    requests whose remaining amounts sum exactly to the target amount, with at least its
    ``target_min_size`` members: targets at receipt positions ``target_rows``, each paid by
    its owner ``ri`` (whose own request is never a candidate)."""
    targets = _targets(rq, rc, target_rows, target_amounts, target_min_size, ri, due, paid, tol)
    shift = _limb_shift(config.subset_max_size)
    if len(target_rows):
        too_big = np.asarray(targets.amount >= (1 << (2 * shift)), dtype=bool)
    else:
        too_big = targets.size > 0
    slow = (targets.size > BLOCK_MAX) | too_big
    found = _Found()
    _search_together(np.flatnonzero((targets.size > 0) & ~slow), targets, config, found)
    for k in np.flatnonzero(slow & (targets.size > 0)).tolist():
        _search_one(k, targets, config, found)
    if not found.target:
        return _frame(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object), [], config)
    k_all, j_all = np.concatenate(found.target), np.concatenate(found.rank)
    order = np.lexsort([j_all, k_all])  # target order, then candidate order (as a loop would)
    return _frame(
        np.asarray(target_rows, dtype=np.int64)[k_all[order]],
        np.concatenate(found.ri)[order],
        as_object(np.concatenate(found.amount).astype(object))[order],
        np.concatenate(found.tie)[order],
        config,
    )


def _targets(
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    target_rows: np.ndarray,
    target_amounts: np.ndarray,
    target_min_size: np.ndarray,
    ri: np.ndarray,
    due: np.ndarray,
    paid: np.ndarray,
    tol: np.ndarray,
) -> _Targets:
    """The targets with their blocks of candidates: their customers' open requests, one
    block per (customer, chain, asset), oldest first inside (ri follows request_id)."""
    n_targets = len(target_rows)
    owners = ri[target_rows]
    customers = rq["cust_code"].to_numpy()[owners].astype(np.int64)
    chains = rc["chain_id"].to_numpy()[target_rows].astype(np.int64)
    assets = rc["asset_code"].to_numpy()[target_rows].astype(np.int64)
    opens = open_requests(rq, due, paid, tol, pd.unique(customers))
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
    n_blocks = int(block_of.max()) + 1 if len(block_of) else 0
    block_size = np.bincount(open_block[order], minlength=n_blocks)
    block_start = np.concatenate([[0], np.cumsum(block_size)[:-1]]).astype(np.int64)
    none = np.zeros(0, np.int64)
    return _Targets(
        owner=owners,
        amount=as_object(np.asarray(target_amounts, dtype=object)),
        min_size=np.asarray(target_min_size, dtype=np.int64),
        ri=opens["ri"].to_numpy(np.int64)[order],
        remaining=as_object(opens["remaining"].to_numpy(dtype=object))[order],
        start=block_start[target_block] if n_targets else none,
        size=block_size[target_block] if n_targets else none,
    )


def _search_together(
    fast: np.ndarray, targets: _Targets, config: ReconConfig, found: _Found
) -> None:
    """Targets ``fast`` (blocks of at most BLOCK_MAX, amounts within two limbs) expanded
    against their blocks, keeping the first subset_max_candidates requests that fit; then all
    targets with the same candidate count and minimum size at once, one matrix product."""
    owners, amounts, min_size = targets.owner, targets.amount, targets.min_size
    size, start = targets.size, targets.start
    pair_t = np.repeat(fast, size[fast])
    first = np.repeat(np.cumsum(size[fast]) - size[fast], size[fast])
    within = np.arange(len(pair_t)) - first
    pair_o = start[pair_t] + within
    keep = (targets.ri[pair_o] != owners[pair_t]) & np.asarray(
        targets.remaining[pair_o] <= amounts[pair_t], dtype=bool
    )
    pair_t, pair_o = pair_t[keep], pair_o[keep]
    seg_start = np.r_[True, pair_t[1:] != pair_t[:-1]] if len(pair_t) else np.zeros(0, bool)
    seg_first = np.maximum.accumulate(np.where(seg_start, np.arange(len(pair_t)), 0))
    rank = np.arange(len(pair_t)) - seg_first
    keep = rank < config.subset_max_candidates
    pair_t, pair_o = pair_t[keep], pair_o[keep]
    count = np.bincount(pair_t, minlength=len(owners))
    max_size = config.subset_max_size
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
                    targets.remaining[cand_o[part]], amounts[rows[part]], masks, max_size
                )
                n_hits = hits.sum(axis=1)
                chosen = (hits.astype(np.int64) @ masks) > 0
                t_idx, j_idx = np.nonzero(chosen)
                o_idx = cand_o[part][t_idx, j_idx]
                found.add(
                    rows[part][t_idx],
                    j_idx,
                    targets.ri[o_idx],
                    targets.remaining[o_idx],
                    n_hits[t_idx] > 1,
                )


def _search_one(k: int, targets: _Targets, config: ReconConfig, found: _Found) -> None:
    """Target ``k`` alone, in Python ints: a huge block (bounded by the candidate cap) or an
    amount beyond two limbs."""
    block = slice(int(targets.start[k]), int(targets.start[k] + targets.size[k]))
    target = int(targets.amount[k])
    cand_ri = targets.ri[block]
    cand_rem = targets.remaining[block]
    keep = (cand_ri != targets.owner[k]) & np.asarray(cand_rem <= target, dtype=bool)
    cand_ri = cand_ri[keep][: config.subset_max_candidates]
    cand_rem = cand_rem[keep][: config.subset_max_candidates]
    if len(cand_ri) < targets.min_size[k]:
        return
    masks = subset_masks(len(cand_ri), int(targets.min_size[k]), config.subset_max_size)
    if masks.shape[0] == 0:
        return
    hits = np.flatnonzero((masks.astype(object) @ cand_rem) == target)
    if len(hits) == 0:
        return
    chosen = np.flatnonzero(masks[hits].any(axis=0))
    found.add(
        np.full(len(chosen), k, dtype=np.int64),
        chosen,
        cand_ri[chosen],
        cand_rem[chosen],
        np.full(len(chosen), len(hits) > 1),
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
