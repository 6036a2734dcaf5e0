"""The reconciliation engine: block -> gate -> score -> assign -> explain, vectorised.

Inputs are the typed frames from `paybridge_reconciliation.inputs` (or the same columns built in
code).
Every step is a column operation over all receipts at once (the batch rule's subset sums too;
only targets in very large customer blocks loop, capped). Output order is fixed by sorting on
stable keys, so the same inputs always give the same frames.

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
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import (
    SplitInts,
    as_object,
    code_argsort,
    exact_ints,
    group_sum,
    int64_split,
    split_ints,
    taken,
)
from paybridge_reconciliation.chain_order import ChainOrderReceipts
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.memory import share_one_heap
from paybridge_reconciliation.prepare import prepare_inputs, text_array
from paybridge_reconciliation.rates import lookup_rates
from paybridge_reconciliation.reasons import Reason
from paybridge_reconciliation.rules_batch import find_batches
from paybridge_reconciliation.rules_own import allocate_in_block_order
from paybridge_reconciliation.rules_reuse import EMPTY as EMPTY_REUSE
from paybridge_reconciliation.rules_reuse import find_reuse_candidates
from paybridge_reconciliation.times import utc_naive

ENGINE_VERSION = "1.0.0"
RULE_OWN, RULE_REUSE, RULE_BATCH = 0, 1, 2
STATUS_NAMES = ["open", "expired", "partial", "paid_within_tolerance", "paid", "overpaid"]
STATUS_ARROW = pa.array(STATUS_NAMES, pa.large_string())
REASON_CODE = {r: i for i, r in enumerate(Reason)}  # exceptions sort by this, then text
REASON_TEXT = pa.array([r.value for r in Reason], pa.large_string())
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


def late_equivalent(
    amount: np.ndarray,
    rate_scaled: np.ndarray,
    decimals: np.ndarray,
    exponent: np.ndarray,
    due: np.ndarray,
    invoice_minor: np.ndarray,
    rate_scale: int,
) -> np.ndarray:
    """Late receipt re-quoted at block time, in units of the original quote (rounded down).

    fair value (minor) = amount x rate x 10**exp / 10**(scale+decimals); the quote prices one
    base unit at invoice_minor / due, so the quote-equivalent is fair value / that price.
    """
    numerator = (
        as_object(amount) * as_object(rate_scaled) * (10 ** as_object(exponent)) * as_object(due)
    )
    denominator = (10 ** (rate_scale + as_object(decimals))) * as_object(invoice_minor)
    return numerator // denominator


def run_rules(
    requests: pd.DataFrame,
    receipts: pd.DataFrame,
    rates: pd.DataFrame | None = None,
    config: ReconConfig | None = None,
    as_of: datetime | None = None,
) -> Frames:
    config = config or ReconConfig()
    share_one_heap()
    rq, rc, input_tx_code, input_owner = prepare_inputs(requests, receipts, config)
    order = rc.order
    rq_asset, rc_asset = _shared_codes(rq["asset"], rc.in_input_order("asset"))
    rq = rq.assign(asset_code=rq_asset, cust_code=pd.factorize(rq["customer_id"])[0])
    rc["asset_code"] = rc_asset[order]
    n = len(rc)
    conf = config.confidence
    rules = set(config.rules)

    due_all = rq["amount_due"].to_numpy()
    tol_all = rq["tolerance"].to_numpy()
    amount = rc["amount"].to_numpy()
    exceptions: list[pd.DataFrame] = []

    def add_exceptions(mask: np.ndarray, reason: Reason, amounts: np.ndarray, ri: np.ndarray):
        idx = np.flatnonzero(mask)
        exceptions.append(
            pd.DataFrame(
                {
                    "rpos": idx,
                    "ri": ri[idx],
                    "reason": REASON_CODE[reason],
                    "amount": as_object(amounts[idx]),
                }
            )
        )

    # --- gate: replays, finality --------------------------------------------------------
    free = np.ones(n, dtype=bool)
    tx_code = input_tx_code[order]
    dup, first = _replayed(rc["chain_id"].to_numpy(), tx_code, rc["event_code"].to_numpy())
    zeros = np.zeros(n, dtype=np.int64)
    minus = np.full(n, -1, dtype=np.int64)
    same = _same_transfer(rc, np.flatnonzero(dup), first[dup])
    identical = np.zeros(n, dtype=bool)
    identical[np.flatnonzero(dup)[same]] = True
    add_exceptions(identical, Reason.DUPLICATE_EVENT, zeros, minus)
    add_exceptions(dup & ~identical, Reason.REPLAY_CONFLICT, amount, minus)
    free &= ~dup
    final = rc.in_input_order("status").isin(config.final_statuses).to_numpy()[order]
    not_final = free & ~final
    add_exceptions(not_final, Reason.NOT_FINAL, amount, minus)
    free &= ~not_final

    # --- block: receipt -> request owning the address -----------------------------------
    ri = input_owner[order]
    unknown = free & (ri < 0)
    add_exceptions(unknown, Reason.UNKNOWN_ADDRESS, amount, minus)
    free &= ~unknown
    ric = np.where(ri < 0, 0, ri)
    wrong_chain = free & (rc["chain_id"].to_numpy() != _owner(rq["chain_id"].to_numpy(), ric))
    add_exceptions(wrong_chain, Reason.WRONG_CHAIN, amount, ri)
    free &= ~wrong_chain
    wrong_asset = free & (rc["asset_code"].to_numpy() != _owner(rq["asset_code"].to_numpy(), ric))
    add_exceptions(wrong_asset, Reason.WRONG_ASSET, amount, ri)
    free &= ~wrong_asset

    block_time = utc_naive(rc["block_time"])
    late = block_time > _owner(utc_naive(rq["expires_at"]), ric)
    after = block_time > _owner(utc_naive(rq["monitor_until"]), ric)

    # --- rule 1: a request's own address --------------------------------------------------
    own_rule = "own_address" in rules
    in_window = free & ~after if own_rule else np.zeros(n, dtype=bool)
    late_rows = np.flatnonzero(in_window & late)
    owner = ri[late_rows]
    late_rates = lookup_rates(
        pd.DataFrame(
            {
                "chain_id": rc["chain_id"].to_numpy()[late_rows],
                "asset": _take(rc.in_input_order("asset"), order[late_rows]),
                "currency": _take(rq["invoice_currency"], owner),
                "at": block_time[late_rows],
            }
        ),
        rates,
        "currency",
        "at",
    )
    has_rate = late_rates["source"].to_numpy(dtype=object) != ""
    no_rate = np.zeros(n, dtype=bool)
    no_rate[late_rows[~has_rate]] = True  # counts as nothing paid; settled addresses first

    eq = as_object(amount).copy() if amount.dtype == object else amount.copy()
    priced = late_rows[has_rate]
    if len(priced):
        eq = as_object(eq)
        eq[priced] = late_equivalent(
            amount[priced],
            late_rates["rate_scaled"].to_numpy(dtype=object)[has_rate],
            late_rates["decimals"].to_numpy()[has_rate],
            rq["currency_exponent"].to_numpy()[ri[priced]],
            due_all[ri[priced]],
            rq["invoice_minor"].to_numpy()[ri[priced]],
            config.rate_scale,
        )
        eq = exact_ints(eq)
    if no_rate.any():
        eq = as_object(eq).copy()
        eq[no_rate] = 0
        eq = exact_ints(eq)

    r1 = np.flatnonzero(in_window)
    r1 = r1[code_argsort(ri[r1], len(rq))]  # grouped by request, in block order
    # the amounts' int64 split was made as they were put in chain order (prepare_receipts);
    # the equivalents differ from the amounts at late rows only
    split = SplitInts(amount, rc["amount_int64"].to_numpy(), rc["amount_fits_int64"].to_numpy())
    own = allocate_in_block_order(
        r1, ri, _with_changes(split, eq, late_rows), split, split_ints(due_all)
    )
    settled_before = own.settled_before
    unpriced = no_rate[r1] & ~settled_before
    add_exceptions(_mask(n, r1[unpriced]), Reason.LATE_NO_RATE, amount, ri)
    keep = ~settled_before & ~no_rate[r1]
    applied_actual = exact_ints(own.applied_actual[keep])
    applied_eq = exact_ints(own.applied_eq[keep])
    r1_rows = r1[keep]
    r1_late = late[r1_rows]
    r1_conf = np.where(r1_late, conf.own_address_late, conf.own_address)
    matches = [
        _match_part(
            ri[r1_rows],
            r1_rows,
            applied_actual,
            applied_eq,
            RULE_OWN,
            r1_conf,
            np.zeros(len(r1_rows), dtype=bool),
        )
    ]
    excess_actual = exact_ints(own.excess_actual[keep])
    has_excess = excess_actual > 0

    # pool: money at an address whose request is settled, or after the monitoring window
    settled_rows = r1[settled_before]
    after_rows = np.flatnonzero(free & after) if own_rule else np.flatnonzero(free)
    pool_rows = np.concatenate([settled_rows, after_rows])
    pool_origin = np.array(
        ["settled_address"] * len(settled_rows) + ["after_window"] * len(after_rows), dtype=object
    )
    order = np.argsort(pool_rows, kind="stable")
    pool_rows, pool_origin = pool_rows[order], pool_origin[order]

    # requests still open after rule 1 (only auto-applied amounts count)
    r1_auto = r1_conf >= config.bands.auto
    paid_eq = group_sum(exact_ints(as_object(applied_eq[r1_auto])), ri[r1_rows][r1_auto], len(rq))
    paid_eq = exact_ints(as_object(paid_eq))

    # --- rule 2: address reuse --------------------------------------------------------
    reuse = EMPTY_REUSE.copy()
    if "address_reuse" in rules and len(pool_rows):
        reuse = find_reuse_candidates(rq, rc, pool_rows, ri, due_all, paid_eq, tol_all, conf)
    eligible = (reuse["confidence"] >= config.bands.auto) & ~reuse["tie"]
    claimed = reuse.loc[eligible, "ri"]
    contested = eligible & reuse["ri"].isin(claimed[claimed.duplicated()])
    reuse = reuse.assign(tie=reuse["tie"] | contested)
    if len(reuse):
        reuse_amount = amount[reuse["rpos"].to_numpy()]
        matches.append(
            _match_part(
                reuse["ri"].to_numpy(),
                reuse["rpos"].to_numpy(),
                reuse_amount,
                reuse_amount,
                RULE_REUSE,
                np.where(reuse["tie"].to_numpy(), conf.tie, reuse["confidence"].to_numpy()),
                reuse["tie"].to_numpy(),
            )
        )
        won = reuse[~reuse["tie"] & (reuse["confidence"] >= config.bands.auto)]
        add = group_sum(
            exact_ints(as_object(amount[won["rpos"].to_numpy()])), won["ri"].to_numpy(), len(rq)
        )
        paid_eq = exact_ints(as_object(paid_eq) + as_object(add))

    # --- rule 3: one transfer, several invoices (bounded subset sum) -------------------
    reuse_tried = reuse["rpos"].to_numpy(np.int64)
    targets_rpos = np.concatenate([r1_rows[has_excess], pool_rows])
    targets_amount = np.concatenate(
        [as_object(excess_actual[has_excess]), as_object(amount[pool_rows])]
    )
    targets_min_size = np.concatenate(
        [np.ones(int(has_excess.sum()), dtype=np.int64), np.full(len(pool_rows), 2)]
    )
    batch_ok = ~np.isin(targets_rpos, reuse_tried)
    batch = pd.DataFrame()
    if "batch" in rules and batch_ok.any():
        batch = find_batches(
            rq,
            rc,
            targets_rpos[batch_ok],
            targets_amount[batch_ok],
            targets_min_size[batch_ok],
            ri,
            due_all,
            paid_eq,
            tol_all,
            config,
        )
    if len(batch):
        auto = batch[(batch["confidence"] >= config.bands.auto) & ~batch["tie"]]
        contested = auto["ri"].duplicated(keep=False)
        bad_receipts = set(auto.loc[contested, "rpos"].tolist())
        batch = batch.assign(tie=batch["tie"] | batch["rpos"].isin(bad_receipts))
        matches.append(
            _match_part(
                batch["ri"].to_numpy(),
                batch["rpos"].to_numpy(),
                batch["amount"].to_numpy(),
                batch["amount"].to_numpy(),
                RULE_BATCH,
                np.where(batch["tie"].to_numpy(), conf.tie, batch["confidence"].to_numpy()),
                batch["tie"].to_numpy(),
            )
        )

    # --- assign: decisions by confidence band ------------------------------------------
    cols = {name: np.concatenate([part[name] for part in matches]) for name in matches[0]}
    eq_applied_all = cols.pop("eq_applied")
    kept_mask = cols["confidence"] >= config.bands.propose
    auto_all = kept_mask & (cols["confidence"] >= config.bands.auto) & ~cols["tie"]
    # auto-applied matches in any order (their uses are sums and membership tests)
    auto_m = {name: values[auto_all] for name, values in cols.items()}
    auto_m["eq_applied"] = eq_applied_all[auto_all]
    kept = np.flatnonzero(kept_mask)
    order = kept[_order_matches(cols["rpos"][kept], cols["ri"][kept], cols["rule"][kept])]
    # object columns re-made in this order: publishing reads every applied amount again
    # (fair values, text, journals), 0.4-0.5 s faster at 1M than over permuted Python ints
    cols = {
        name: taken(values, order).values if values.dtype == object else values[order]
        for name, values in cols.items()
    }
    cols["auto"] = auto_all[order]
    m = pd.DataFrame(cols)
    is_auto = cols["auto"]

    # --- leftovers become exceptions ----------------------------------------------------
    auto_rpos = auto_m["rpos"]
    proposed_rpos = cols["rpos"][~is_auto]
    own_proposed = np.flatnonzero(r1_conf < config.bands.auto)
    if len(own_proposed):
        add_exceptions(
            _mask(n, r1_rows[own_proposed]),
            Reason.NEEDS_REVIEW,
            _scatter(n, r1_rows[own_proposed], as_object(applied_actual)[own_proposed]),
            ri,
        )
    batch_auto = auto_rpos[auto_m["rule"] == RULE_BATCH]
    own_review = r1_rows[own_proposed]
    excess_rows = r1_rows[has_excess]
    excess_left = as_object(excess_actual[has_excess])
    excess_open = ~np.isin(excess_rows, batch_auto)
    excess_review = np.isin(excess_rows, proposed_rpos) & ~np.isin(excess_rows, own_review)
    add_exceptions(
        _mask(n, excess_rows[excess_open & excess_review]),
        Reason.AMBIGUOUS,
        _scatter(n, excess_rows, excess_left),
        ri,
    )
    add_exceptions(
        _mask(n, excess_rows[excess_open & ~excess_review]),
        Reason.OVERPAYMENT,
        _scatter(n, excess_rows, excess_left),
        ri,
    )
    pool_done = np.isin(pool_rows, auto_rpos)
    pool_review = np.isin(pool_rows, proposed_rpos)
    left = ~pool_done
    add_exceptions(_mask(n, pool_rows[left & pool_review]), Reason.AMBIGUOUS, amount, ri)
    quiet = left & ~pool_review
    pool_due = due_all[ri[pool_rows]] if len(pool_rows) else np.zeros(0, dtype=np.int64)
    repeat = (as_object(amount[pool_rows]) == as_object(pool_due)) if len(pool_rows) else quiet
    is_settled = pool_origin == "settled_address"
    add_exceptions(
        _mask(n, pool_rows[quiet & is_settled & repeat]), Reason.DUPLICATE_PAYMENT, amount, ri
    )
    add_exceptions(
        _mask(n, pool_rows[quiet & is_settled & ~repeat]), Reason.SETTLED_ADDRESS, amount, ri
    )
    add_exceptions(_mask(n, pool_rows[quiet & ~is_settled]), Reason.AFTER_WINDOW, amount, ri)

    # --- per-request status -------------------------------------------------------------
    applied = group_sum(
        exact_ints(auto_m["eq_applied"]),
        auto_m["ri"],
        len(rq),
    )
    applied = exact_ints(as_object(applied))
    cutoff = pd.Timestamp(as_of) if as_of is not None else _default_as_of(rc)
    expired = (
        utc_naive(rq["monitor_until"]) < cutoff.tz_convert("UTC").tz_localize(None).to_datetime64()
    )
    over_flag = np.zeros(len(rq), dtype=bool)
    over_flag[ri[excess_rows[excess_open]]] = True
    late_flag = np.zeros(len(rq), dtype=bool)
    own_auto = auto_m["rule"] == RULE_OWN
    late_flag[auto_m["ri"][own_auto][late[auto_m["rpos"][own_auto]]]] = True
    remaining = as_object(due_all) - as_object(applied)
    status = status_codes(remaining, as_object(applied), as_object(tol_all), expired, over_flag)
    remaining = np.where(remaining > 0, remaining, 0)
    within = status == STATUS_NAMES.index("paid_within_tolerance")
    status_df = pd.DataFrame(
        {
            "status": pd.Series(pc.take(STATUS_ARROW, pa.array(status)), dtype="str"),
            "amount_applied": as_object(applied),
            "remaining_due": np.where(within, 0, remaining),
            "write_off_units": np.where(within, remaining, 0),
            "paid_late": late_flag,
            "paid_over": over_flag,
        }
    )
    underpaid = status == STATUS_NAMES.index("partial")
    exc_under = pd.DataFrame(
        {
            "rpos": -1,
            "ri": np.flatnonzero(underpaid),
            "reason": REASON_CODE[Reason.UNDERPAID],
            "amount": as_object(np.zeros(int(underpaid.sum()), dtype=np.int64)),
        }
    )
    exc = pd.concat([*exceptions, exc_under], ignore_index=True)
    reason_code = exc["reason"].to_numpy(np.int64)
    order = np.lexsort([reason_code, exc["ri"].to_numpy(np.int64), exc["rpos"].to_numpy(np.int64)])
    exc = exc.take(order).reset_index(drop=True)
    exc["reason"] = pd.Series(pc.take(REASON_TEXT, pa.array(reason_code[order])), dtype="str")
    rc["late"] = late & (ri >= 0)
    rc["owner"] = ri
    return Frames(rq, rc, m, exc, status_df, cutoff)


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


def status_codes(
    remaining: np.ndarray,
    applied: np.ndarray,
    tolerance: np.ndarray,
    expired: np.ndarray,
    over: np.ndarray,
) -> np.ndarray:
    """Codes into STATUS_NAMES: `tolerance.classify_amount_vec` (remaining = due - applied),
    unpaid split into expired/open, and a flagged overpayment shown as overpaid unless the
    request is still partly open."""
    applied, remaining, tolerance = _int64_if_all_fit(applied, remaining, tolerance)
    code = np.select(
        [applied <= 0, remaining == 0, remaining < 0, remaining <= tolerance],
        [0, 4, 5, 3],
        default=2,
    ).astype(np.int64)
    code = np.where((code == 0) & expired, 1, code)
    return np.where(over & (code != 2), 5, code)


def _int64_if_all_fit(*arrays: np.ndarray) -> list[np.ndarray]:
    """The same integers as int64 when every value of every array fits, else unchanged.

    Only for comparisons (no arithmetic follows), so int64 sums cannot overflow here.
    """
    try:
        return [np.asarray(a).astype(np.int64) for a in arrays]
    except OverflowError:
        return list(arrays)


def _replayed(
    chain: np.ndarray, tx_code: np.ndarray, event_code: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each receipt (chain order): is its identity (chain, tx, event key) already seen
    earlier, and the position of its first occurrence. One int64 key (chain code, tx code and
    event code packed) when the widths allow, else the three code columns."""
    n = len(chain)
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    chain_code = pd.factorize(chain)[0]
    widths = [int(x.max()).bit_length() for x in (chain_code, tx_code, event_code)]
    if sum(widths) <= 63:
        key = (chain_code << (widths[1] + widths[2])) | (tx_code << widths[2]) | event_code
        codes = pd.factorize(key)[0]
    else:
        frame = pd.DataFrame({"chain": chain_code, "tx": tx_code, "event": event_code})
        codes = frame.groupby(["chain", "tx", "event"], sort=False).ngroup().to_numpy()
    first_of_code = np.empty(int(codes.max()) + 1, dtype=np.int64)
    first_of_code[codes[::-1]] = np.arange(n - 1, -1, -1)  # the last write is the first row
    first = first_of_code[codes]
    return first != np.arange(n), first


def _same_transfer(rc: ChainOrderReceipts, rows: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """A replay is the same transfer only with the same recipient, asset and amount as the
    first receipt of its identity; anything else is a conflict for a person."""
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    same = rc["asset_code"].to_numpy()[rows] == rc["asset_code"].to_numpy()[firsts]
    to_rows = rc.text_at("to_address", rows).to_numpy(dtype=object)
    to_firsts = rc.text_at("to_address", firsts).to_numpy(dtype=object)
    amount = as_object(rc["amount"].to_numpy())
    return np.asarray(same & (to_rows == to_firsts) & (amount[rows] == amount[firsts]), bool)


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


def _owner(values: np.ndarray, ric: np.ndarray) -> np.ndarray:
    """values[ric], or placeholders when there are no requests (all receipts unknown)."""
    if len(values):
        return values[ric]
    return np.zeros(len(ric), dtype=values.dtype)


def _take(series: pd.Series, idx: np.ndarray) -> pd.Series:
    return series.take(np.asarray(idx, dtype=np.int64)).reset_index(drop=True)


def _with_changes(split: SplitInts, values: np.ndarray, changed: np.ndarray) -> SplitInts:
    """The split of ``values``, which equal ``split.values`` outside the rows ``changed``."""
    small, fits = split.int64.copy(), split.fits.copy()
    small[changed], fits[changed] = int64_split(values[changed])
    return SplitInts(values, small, fits)


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[np.asarray(rows, dtype=np.int64)] = True
    return out


def _scatter(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=object)
    out[:] = 0
    out[np.asarray(rows, dtype=np.int64)] = values
    return out


def _default_as_of(rc: ChainOrderReceipts) -> pd.Timestamp:
    """Deterministic 'now': the latest block time in the receipts (or the epoch)."""
    if len(rc) == 0:
        return pd.Timestamp(0, tz="UTC")
    return pd.Timestamp(rc["block_time"].max())
