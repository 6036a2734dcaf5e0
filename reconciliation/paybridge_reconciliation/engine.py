"""The reconciliation engine: block -> gate -> score -> assign -> explain, vectorised.

Inputs are the typed frames from `paybridge_reconciliation.inputs` (or the same columns built in
code).
Every step is a column operation over all receipts at once (the batch rule's subset sums too;
only targets in very large customer blocks loop, capped). The steps, in order, each in its own
module: `prepare` (codes, chain order, owners), `gate` (replays, finality, owner, chain,
asset), `rules_own`, `rules_reuse`, `rules_batch`, the decisions here, `leftovers` (what goes
to a person) and `request_status`; `exception_rows` collects the exceptions they find. Output
order is fixed by sorting on stable keys, so the same inputs always give the same frames.

Where the time goes is decided up front: text columns (addresses, tx hashes, status, asset) are
turned into integer codes once (Arrow hashing) and the rules compare codes; receipts' text is
only put in chain order when publishing needs it; rules, reasons and statuses are small integer
codes until the end; amounts are int64 where a whole column fits, else Python ints, and the
Python-int work is limited to the rows that need it (rule 1 runs in int64 for every request
whose sums provably fit, `rules_own`). `run_rules` returns decisions with their structured
explanation (rule, confidence, decision, tie, late); `result.publish` renders text, evidence
and journals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import (
    as_object,
    code_argsort,
    exact_group_sum,
    exact_ints,
    taken,
)
from paybridge_reconciliation.chain_order import ChainOrderReceipts
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.exception_rows import ExceptionRows
from paybridge_reconciliation.gate import RoutedReceipts, route_receipts
from paybridge_reconciliation.leftovers import Decided, Pool, add_leftover_exceptions
from paybridge_reconciliation.memory import share_one_heap
from paybridge_reconciliation.prepare import prepare_inputs, text_array
from paybridge_reconciliation.reasons import Reason
from paybridge_reconciliation.request_status import request_status
from paybridge_reconciliation.rules_batch import find_batches
from paybridge_reconciliation.rules_batch import tie_contested as tie_contested_batches
from paybridge_reconciliation.rules_own import OwnAddressMatches, match_own_address
from paybridge_reconciliation.rules_reuse import EMPTY as EMPTY_REUSE
from paybridge_reconciliation.rules_reuse import find_reuse_candidates
from paybridge_reconciliation.rules_reuse import tie_contested as tie_contested_reuse
from paybridge_reconciliation.times import utc_naive

ENGINE_VERSION = "1.0.0"
RULE_OWN, RULE_REUSE, RULE_BATCH = 0, 1, 2
RULE_NAMES = ["own_address", "address_reuse", "batch"]  # indexed by the codes above


@dataclass
class Frames:
    """Raw engine decisions, before journals and formatting."""

    requests: pd.DataFrame
    receipts: ChainOrderReceipts
    # matches: ri, rpos, amount_applied, rule (code), confidence, tie, auto
    matches: pd.DataFrame
    exceptions: pd.DataFrame  # rpos (or -1), ri (or -1), reason, amount, detail
    status: pd.DataFrame  # per request position
    as_of: pd.Timestamp
    notes: dict[str, int] = field(default_factory=dict)


def run_rules(
    requests: pd.DataFrame,
    receipts: pd.DataFrame,
    rates: pd.DataFrame | None = None,
    config: ReconConfig | None = None,
    as_of: datetime | None = None,
) -> Frames:
    """Every receipt matched to requests or sent to a person, each request's status, and the
    matches' structured explanation: the decisions publishing renders (`result.publish`).
    ``as_of`` (default: the latest block time) decides which unpaid requests have expired."""
    config = config or ReconConfig()
    share_one_heap()
    rq, rc, input_tx_code, input_owner = prepare_inputs(requests, receipts, config)
    rq_asset, rc_asset = _shared_codes(rq["asset"], rc.in_input_order("asset"))
    rq = rq.assign(asset_code=rq_asset, cust_code=pd.factorize(rq["customer_id"])[0])
    rc["asset_code"] = rc_asset[rc.order]
    rules = set(config.rules)
    due = rq["amount_due"].to_numpy()
    tol = rq["tolerance"].to_numpy()
    amount = rc["amount"].to_numpy()
    exceptions = ExceptionRows(len(rc))

    routed = route_receipts(rq, rc, input_tx_code, input_owner, config, exceptions)
    ri = routed.ri
    own = match_own_address(rq, rc, routed, rates, config, exceptions)
    parts = [_own_part(own, ri)]
    after = routed.free & routed.after if "own_address" in rules else routed.free
    pool = Pool.of(own.settled_rows, np.flatnonzero(after))
    # requests still open after rule 1 (only auto-applied amounts count)
    own_auto = own.confidence >= config.bands.auto
    paid_eq = exact_group_sum(own.applied_eq[own_auto], ri[own.rows][own_auto], len(rq))

    # --- rule 2: address reuse --------------------------------------------------------
    reuse = EMPTY_REUSE.copy()
    if "address_reuse" in rules and len(pool.rows):
        reuse = find_reuse_candidates(rq, rc, pool.rows, ri, due, paid_eq, tol, config.confidence)
    reuse = tie_contested_reuse(reuse, config.bands.auto)
    if len(reuse):
        reuse_amount = amount[reuse["rpos"].to_numpy()]
        parts.append(_rule_part(reuse, RULE_REUSE, reuse_amount, config))
        won = reuse[~reuse["tie"] & (reuse["confidence"] >= config.bands.auto)]
        add = exact_group_sum(amount[won["rpos"].to_numpy()], won["ri"].to_numpy(), len(rq))
        paid_eq = exact_ints(as_object(paid_eq) + as_object(add))

    # --- rule 3: one transfer, several invoices (bounded subset sum) -------------------
    if "batch" in rules:
        batch = _batch_candidates(rq, rc, own, pool, reuse, ri, due, paid_eq, tol, config)
        if len(batch):
            batch = tie_contested_batches(batch, config.bands.auto)
            parts.append(_rule_part(batch, RULE_BATCH, batch["amount"].to_numpy(), config))

    # --- decide, then what is left goes to a person -------------------------------------
    matches, auto = _decide(parts, config)
    decided = Decided(
        auto=auto["rpos"],
        auto_batch=auto["rpos"][auto["rule"] == RULE_BATCH],
        proposed=matches["rpos"].to_numpy()[~matches["auto"].to_numpy()],
    )
    open_excess = add_leftover_exceptions(
        own, pool, decided, amount, due, ri, config.bands.auto, exceptions
    )

    # --- per-request status -------------------------------------------------------------
    applied = exact_group_sum(auto["eq_applied"], auto["ri"], len(rq))
    cutoff = pd.Timestamp(as_of) if as_of is not None else _default_as_of(rc)
    expired = (
        utc_naive(rq["monitor_until"]) < cutoff.tz_convert("UTC").tz_localize(None).to_datetime64()
    )
    paid_over = np.zeros(len(rq), dtype=bool)
    paid_over[ri[open_excess]] = True
    status, underpaid = request_status(
        due, tol, applied, expired, _paid_late(auto, routed, len(rq)), paid_over
    )
    exceptions.add_requests(underpaid, Reason.UNDERPAID)
    rc["late"] = routed.late & (ri >= 0)
    rc["owner"] = ri
    return Frames(rq, rc, matches, exceptions.frame(), status, cutoff)


def _batch_candidates(
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    own: OwnAddressMatches,
    pool: Pool,
    reuse: pd.DataFrame,
    ri: np.ndarray,
    due: np.ndarray,
    paid_eq: np.ndarray,
    tol: np.ndarray,
    config: ReconConfig,
) -> pd.DataFrame:
    """Rule 3's targets: each own-address excess (paying one or more other invoices) and each
    pooled receipt (paying two or more), except receipts rule 2 already proposed."""
    has_excess = own.excess > 0
    targets_rpos = np.concatenate([own.rows[has_excess], pool.rows])
    targets_amount = np.concatenate(
        [as_object(own.excess[has_excess]), as_object(rc["amount"].to_numpy()[pool.rows])]
    )
    targets_min_size = np.concatenate(
        [np.ones(int(has_excess.sum()), dtype=np.int64), np.full(len(pool.rows), 2)]
    )
    untried = ~np.isin(targets_rpos, reuse["rpos"].to_numpy(np.int64))
    if not untried.any():
        return pd.DataFrame()
    return find_batches(
        rq,
        rc,
        targets_rpos[untried],
        targets_amount[untried],
        targets_min_size[untried],
        ri,
        due,
        paid_eq,
        tol,
        config,
    )


def _decide(
    parts: list[dict[str, np.ndarray]], config: ReconConfig
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every rule's candidates at or above the propose band, in fixed order (receipt, request,
    rule), flagged ``auto`` at or above the auto band when not tied; and the auto-applied ones
    (in any order: their uses are sums and membership tests) with their quote-equivalents."""
    cols = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    eq_applied = cols.pop("eq_applied")
    kept_mask = cols["confidence"] >= config.bands.propose
    auto_mask = kept_mask & (cols["confidence"] >= config.bands.auto) & ~cols["tie"]
    auto = {name: values[auto_mask] for name, values in cols.items()}
    auto["eq_applied"] = eq_applied[auto_mask]
    kept = np.flatnonzero(kept_mask)
    order = kept[_order_matches(cols["rpos"][kept], cols["ri"][kept], cols["rule"][kept])]
    # object columns re-made in this order: publishing reads every applied amount again
    # (fair values, text, journals), 0.4-0.5 s faster at 1M than over permuted Python ints
    cols = {
        name: taken(values, order).values if values.dtype == object else values[order]
        for name, values in cols.items()
    }
    cols["auto"] = auto_mask[order]
    return pd.DataFrame(cols), auto


def _paid_late(auto: dict[str, np.ndarray], routed: RoutedReceipts, n_requests: int) -> np.ndarray:
    """Per request: an automatic own-address match came after its quote expired."""
    late_flag = np.zeros(n_requests, dtype=bool)
    own_auto = auto["rule"] == RULE_OWN
    late_flag[auto["ri"][own_auto][routed.late[auto["rpos"][own_auto]]]] = True
    return late_flag


def _own_part(own: OwnAddressMatches, ri: np.ndarray) -> dict[str, np.ndarray]:
    no_tie = np.zeros(len(own.rows), dtype=bool)
    return _match_part(
        ri[own.rows], own.rows, own.applied_actual, own.applied_eq, RULE_OWN, own.confidence, no_tie
    )


def _rule_part(
    candidates: pd.DataFrame, rule: int, amount: np.ndarray, config: ReconConfig
) -> dict[str, np.ndarray]:
    """Rule 2's or 3's candidates (rpos, ri, confidence, tie), each applying ``amount`` in
    full; a tie is proposed at the tie confidence."""
    tie = candidates["tie"].to_numpy()
    return _match_part(
        candidates["ri"].to_numpy(),
        candidates["rpos"].to_numpy(),
        amount,
        amount,
        rule,
        np.where(tie, config.confidence.tie, candidates["confidence"].to_numpy()),
        tie,
    )


def _match_part(
    ri: np.ndarray,
    rpos: np.ndarray,
    applied: np.ndarray,
    eq_applied: np.ndarray,
    rule: int,
    confidence: np.ndarray,
    tie: np.ndarray,
) -> dict[str, np.ndarray]:
    """One rule's match candidates as plain columns (concatenated once, framed once)."""
    return {
        "ri": np.asarray(ri, dtype=np.int64),
        "rpos": np.asarray(rpos, dtype=np.int64),
        "amount_applied": as_object(np.asarray(applied)),
        "eq_applied": as_object(np.asarray(eq_applied)),
        "rule": np.full(len(ri), rule, dtype=np.int64),
        "confidence": np.asarray(confidence, dtype=float),
        "tie": np.asarray(tie, dtype=bool),
    }


def _order_matches(rpos: np.ndarray, ri: np.ndarray, rule: np.ndarray) -> np.ndarray:
    """Stable order by (rpos, ri, rule): a counting sort on rpos, ties by (ri, rule)."""
    if len(rpos) == 0:
        return np.zeros(0, dtype=np.int64)
    rule_bits = int(rule.max()).bit_length()
    if int(ri.max()).bit_length() + rule_bits <= 63 and int(ri.min()) >= 0:
        return code_argsort(rpos, int(rpos.max()) + 1, (ri << rule_bits) | rule)
    return np.lexsort([rule, ri, rpos])


def _shared_codes(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize of left then right as one column (codes by first appearance), without
    concatenating: right is looked up among left's few distinct values (Arrow hash)."""
    left_codes, uniques = pd.factorize(left)
    values = text_array(right)
    found = pc.index_in(values, value_set=text_array(uniques))
    right_codes = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    missing = np.flatnonzero(right_codes < 0)
    if len(missing):
        extra = pd.factorize(right.take(missing))[0]  # -1 for a missing value, as factorize
        right_codes[missing] = np.where(extra < 0, -1, len(uniques) + extra)
    return left_codes.astype(np.int64), right_codes


def _default_as_of(rc: ChainOrderReceipts) -> pd.Timestamp:
    """Deterministic 'now': the latest block time in the receipts (or the epoch)."""
    if len(rc) == 0:
        return pd.Timestamp(0, tz="UTC")
    return pd.Timestamp(rc["block_time"].max())
