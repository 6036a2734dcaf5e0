"""The reconciliation engine: block -> gate -> score -> assign -> explain, vectorised.

Inputs are the typed frames from `reconciliation.inputs` (or the same columns built in code).
Every step is a column operation over all receipts at once; the only Python loop runs over the
rare receipts that need a bounded subset-sum search (batch payments). Output order is fixed by
sorting on stable keys, so the same inputs always give the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import pandas as pd

from reconciliation.amounts import (
    as_object,
    div_ceil,
    exact_ints,
    group_sum,
    sorted_group_cumsum_before,
)
from reconciliation.config import ReconConfig
from reconciliation.rates import lookup_rates
from reconciliation.reasons import Reason
from reconciliation.rules_batch import find_batches
from reconciliation.rules_reuse import EMPTY as EMPTY_REUSE
from reconciliation.rules_reuse import find_reuse_candidates
from reconciliation.times import utc_naive
from reconciliation.tolerance import classify_amount_vec, percent_to_ppm, tolerance_units_vec

ENGINE_VERSION = "1.0.0"


@dataclass
class Frames:
    """Raw engine decisions, before journals and formatting."""

    requests: pd.DataFrame
    receipts: pd.DataFrame
    matches: pd.DataFrame  # ri, rpos, amount_applied, eq_applied, rule, confidence, decision
    exceptions: pd.DataFrame  # rpos (or -1), ri (or -1), reason, amount, detail
    status: pd.DataFrame  # per request position
    as_of: pd.Timestamp
    notes: dict[str, int] = field(default_factory=dict)


def prepare_requests(requests: pd.DataFrame, config: ReconConfig) -> pd.DataFrame:
    rq = requests.sort_values("request_id", kind="stable").reset_index(drop=True)
    due = exact_ints(rq["amount_due"].to_numpy())
    invoice_minor = exact_ints(rq["invoice_minor"].to_numpy())
    if config.customer_groups:
        mapped = rq["customer_id"].map(config.customer_groups)
        groups = pd.Series(np.where(mapped.isna(), "default", mapped.astype(object)), dtype=object)
    else:
        groups = pd.Series(np.full(len(rq), "default", dtype=object), dtype=object)
    unknown = set(groups.unique()) - set(config.tolerance_groups)
    if unknown:
        raise ValueError(f"customer_groups refer to unknown tolerance groups: {sorted(unknown)}")
    exponent = rq["currency_exponent"].to_numpy(np.int64)
    abs_minor = np.zeros(len(rq), dtype=object)
    ppm = np.zeros(len(rq), dtype=np.int64)
    for name, limits in config.tolerance_groups.items():
        in_group = (groups == name).to_numpy()
        if not in_group.any():
            continue
        ppm[in_group] = percent_to_ppm(limits.percent)
        for exp in np.unique(exponent[in_group]):
            sel = in_group & (exponent == exp)
            scaled = limits.absolute.scaleb(int(exp)).to_integral_value(rounding=ROUND_FLOOR)
            abs_minor[sel] = int(scaled)
    rq = rq.assign(
        amount_due=due,
        invoice_minor=invoice_minor,
        tolerance_group=groups.to_numpy(),
        tolerance=exact_ints(tolerance_units_vec(due, invoice_minor, abs_minor, ppm)),
    )
    return rq


def prepare_receipts(receipts: pd.DataFrame) -> pd.DataFrame:
    """Receipts in chain order (time, chain, block, log index, then tx hash)."""
    receipts = receipts.reset_index(drop=True)
    keys = [
        receipts["log_index"].to_numpy(np.int64),
        receipts["block_number"].to_numpy(np.int64),
        receipts["chain_id"].to_numpy(np.int64),
        utc_naive(receipts["block_time"]).astype(np.int64),
    ]
    order = np.lexsort(keys)
    sorted_keys = np.stack([k[order] for k in keys])
    same_as_next = (sorted_keys[:, 1:] == sorted_keys[:, :-1]).all(axis=0)
    if same_as_next.any():
        # rare: receipts sharing (time, chain, block, log index); order each run by tx hash
        in_run = np.zeros(len(order), dtype=bool)
        in_run[:-1] |= same_as_next
        in_run[1:] |= same_as_next
        run_id = np.cumsum(np.r_[True, ~same_as_next])
        rows = np.flatnonzero(in_run)
        tx_hash = receipts["tx_hash"].take(order[rows]).to_numpy(dtype=object)
        within = sorted(range(len(rows)), key=lambda i: (run_id[rows[i]], tx_hash[i]))
        order[rows] = order[rows][np.asarray(within, dtype=np.int64)]
    rc = receipts.take(order).reset_index(drop=True)
    return rc.assign(amount=exact_ints(rc["amount"].to_numpy()), rpos=np.arange(len(rc)))


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
    rq = prepare_requests(requests, config)
    rc = prepare_receipts(receipts)
    asset_codes = pd.factorize(pd.concat([rq["asset"], rc["asset"]], ignore_index=True))[0]
    rq = rq.assign(asset_code=asset_codes[: len(rq)], cust_code=pd.factorize(rq["customer_id"])[0])
    rc = rc.assign(asset_code=asset_codes[len(rq) :])
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
                    "reason": reason.value,
                    "amount": as_object(amounts[idx]),
                }
            )
        )

    # --- gate: replays, finality --------------------------------------------------------
    free = np.ones(n, dtype=bool)
    dup = rc.duplicated(["chain_id", "tx_hash", "log_index"], keep="first").to_numpy()
    zeros = np.zeros(n, dtype=np.int64)
    minus = np.full(n, -1, dtype=np.int64)
    add_exceptions(dup, Reason.DUPLICATE_EVENT, zeros, minus)
    free &= ~dup
    not_final = free & ~rc["status"].isin(config.final_statuses).to_numpy()
    add_exceptions(not_final, Reason.NOT_FINAL, amount, minus)
    free &= ~not_final

    # --- block: receipt -> request owning the address -----------------------------------
    ri = pd.Index(rq["deposit_address"]).get_indexer(rc["to_address"]).astype(np.int64)
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
                "asset": _take(rc["asset"], late_rows),
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
    late_rate_text = np.full(n, "", dtype=object)
    late_rate_text[priced] = late_rates["rate_text"].to_numpy(dtype=object)[has_rate]
    late_rate_source = np.full(n, "", dtype=object)
    late_rate_source[priced] = late_rates["source"].to_numpy(dtype=object)[has_rate]

    r1 = np.flatnonzero(in_window)
    r1 = r1[np.argsort(ri[r1], kind="stable")]  # grouped by request, in block order
    r1_ri = ri[r1]
    r1_eq = eq[r1]
    r1_amount = amount[r1]
    r1_due = due_all[r1_ri]
    r1_due, r1_eq, r1_amount = (exact_ints(x) for x in (r1_due, r1_eq, r1_amount))
    before = sorted_group_cumsum_before(r1_eq, r1_ri)
    remaining_before = r1_due - before
    settled_before = remaining_before <= 0
    applied_eq = np.where(r1_eq < remaining_before, r1_eq, remaining_before)
    excess_eq = r1_eq - applied_eq
    full = excess_eq <= 0
    applied_actual = np.where(
        full,
        r1_amount,
        np.where(
            r1_eq == r1_amount,
            applied_eq,
            div_ceil(as_object(r1_amount) * applied_eq, np.where(r1_eq == 0, 1, r1_eq)),
        ),
    )
    unpriced = no_rate[r1] & ~settled_before
    add_exceptions(_mask(n, r1[unpriced]), Reason.LATE_NO_RATE, amount, ri)
    keep = ~settled_before & ~no_rate[r1]
    applied_actual = exact_ints(np.asarray(applied_actual)[keep])
    applied_eq = exact_ints(np.asarray(applied_eq)[keep])
    r1_rows = r1[keep]
    r1_late = late[r1_rows]
    r1_conf = np.where(r1_late, conf.own_address_late, conf.own_address)
    matches = [
        pd.DataFrame(
            {
                "ri": ri[r1_rows],
                "rpos": r1_rows,
                "amount_applied": as_object(applied_actual),
                "eq_applied": as_object(applied_eq),
                "rule": "own_address",
                "confidence": r1_conf,
                "tie": False,
            }
        )
    ]
    excess_actual = exact_ints(as_object(amount[r1_rows]) - as_object(applied_actual))
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
            pd.DataFrame(
                {
                    "ri": reuse["ri"].to_numpy(),
                    "rpos": reuse["rpos"].to_numpy(),
                    "amount_applied": as_object(reuse_amount),
                    "eq_applied": as_object(reuse_amount),
                    "rule": "address_reuse",
                    "confidence": np.where(
                        reuse["tie"].to_numpy(), conf.tie, reuse["confidence"].to_numpy()
                    ),
                    "tie": reuse["tie"].to_numpy(),
                }
            )
        )
        won = reuse[~reuse["tie"] & (reuse["confidence"] >= config.bands.auto)]
        add = group_sum(
            exact_ints(as_object(amount[won["rpos"].to_numpy()])), won["ri"].to_numpy(), len(rq)
        )
        paid_eq = exact_ints(as_object(paid_eq) + as_object(add))

    # --- rule 3: one transfer, several invoices (bounded subset sum) -------------------
    reuse_tried = set(reuse["rpos"].tolist())
    targets_rpos = np.concatenate([r1_rows[has_excess], pool_rows])
    targets_amount = np.concatenate(
        [as_object(excess_actual[has_excess]), as_object(amount[pool_rows])]
    )
    targets_min_size = np.concatenate(
        [np.ones(int(has_excess.sum()), dtype=np.int64), np.full(len(pool_rows), 2)]
    )
    batch_ok = np.array([r not in reuse_tried for r in targets_rpos.tolist()], dtype=bool)
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
            pd.DataFrame(
                {
                    "ri": batch["ri"].to_numpy(),
                    "rpos": batch["rpos"].to_numpy(),
                    "amount_applied": as_object(batch["amount"].to_numpy()),
                    "eq_applied": as_object(batch["amount"].to_numpy()),
                    "rule": "batch",
                    "confidence": np.where(
                        batch["tie"].to_numpy(), conf.tie, batch["confidence"].to_numpy()
                    ),
                    "tie": batch["tie"].to_numpy(),
                }
            )
        )

    # --- assign: decisions by confidence band ------------------------------------------
    m = pd.concat(matches, ignore_index=True)
    m = m[m["confidence"] >= config.bands.propose]
    decision = np.where(
        (m["confidence"].to_numpy() >= config.bands.auto) & ~m["tie"].to_numpy().astype(bool),
        "auto",
        "proposed",
    )
    m = m.assign(decision=decision)
    rule_code = m["rule"].map({"own_address": 0, "address_reuse": 1, "batch": 2}).to_numpy()
    order = np.lexsort([rule_code, m["ri"].to_numpy(np.int64), m["rpos"].to_numpy(np.int64)])
    m = m.take(order).reset_index(drop=True)
    auto_m = m[m["decision"] == "auto"]

    # --- leftovers become exceptions ----------------------------------------------------
    auto_by_receipt = auto_m.groupby("rpos")["amount_applied"].sum()
    proposed_receipts = set(m.loc[m["decision"] == "proposed", "rpos"].tolist())
    own_proposed = np.flatnonzero(r1_conf < config.bands.auto)
    if len(own_proposed):
        add_exceptions(
            _mask(n, r1_rows[own_proposed]),
            Reason.NEEDS_REVIEW,
            _scatter(n, r1_rows[own_proposed], as_object(applied_actual)[own_proposed]),
            ri,
        )
    batch_auto = set(auto_m.loc[auto_m["rule"] == "batch", "rpos"].tolist())
    own_review = set(r1_rows[own_proposed].tolist())
    excess_rows = r1_rows[has_excess]
    excess_left = as_object(excess_actual[has_excess])
    excess_open = np.array([r not in batch_auto for r in excess_rows.tolist()], dtype=bool)
    excess_review = np.array(
        [r in proposed_receipts and r not in own_review for r in excess_rows.tolist()],
        dtype=bool,
    )
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
    pool_done = np.array([r in auto_by_receipt.index for r in pool_rows.tolist()], dtype=bool)
    pool_review = np.array([r in proposed_receipts for r in pool_rows.tolist()], dtype=bool)
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
        exact_ints(as_object(auto_m["eq_applied"].to_numpy())),
        auto_m["ri"].to_numpy(np.int64),
        len(rq),
    )
    applied = exact_ints(as_object(applied))
    status = classify_amount_vec(due_all, applied, tol_all)
    cutoff = pd.Timestamp(as_of) if as_of is not None else _default_as_of(rc)
    expired = (
        utc_naive(rq["monitor_until"]) < cutoff.tz_convert("UTC").tz_localize(None).to_datetime64()
    )
    status = np.where((status == "unpaid") & expired, "expired", status)
    status = np.where(status == "unpaid", "open", status)
    credit_ri = [ri[r] for r in excess_rows[excess_open].tolist()]
    over_flag = np.zeros(len(rq), dtype=bool)
    over_flag[np.asarray(credit_ri, dtype=np.int64)] = True
    late_flag = np.zeros(len(rq), dtype=bool)
    own_auto = auto_m[auto_m["rule"] == "own_address"]
    late_flag[own_auto["ri"].to_numpy()[late[own_auto["rpos"].to_numpy()]]] = True
    status = np.where(over_flag & (status != "partial"), "overpaid", status)
    remaining = as_object(due_all) - as_object(applied)
    remaining = np.where(remaining > 0, remaining, 0)
    write_off = np.where(status == "paid_within_tolerance", remaining, 0)
    status_df = pd.DataFrame(
        {
            "status": status.astype(object),
            "amount_applied": as_object(applied),
            "remaining_due": np.where(status == "paid_within_tolerance", 0, remaining),
            "write_off_units": write_off,
            "paid_late": late_flag,
            "paid_over": over_flag,
        }
    )
    underpaid = status == "partial"
    exc_under = pd.DataFrame(
        {
            "rpos": -1,
            "ri": np.flatnonzero(underpaid),
            "reason": Reason.UNDERPAID.value,
            "amount": as_object(np.zeros(int(underpaid.sum()), dtype=np.int64)),
        }
    )
    exc = pd.concat([*exceptions, exc_under], ignore_index=True)
    reason_code = exc["reason"].map({r.value: i for i, r in enumerate(Reason)}).to_numpy()
    order = np.lexsort([reason_code, exc["ri"].to_numpy(np.int64), exc["rpos"].to_numpy(np.int64)])
    exc = exc.take(order).reset_index(drop=True)
    extra = {
        "late_rate_text": late_rate_text,
        "late_rate_source": late_rate_source,
    }
    rc = rc.assign(**extra, late=late & (ri >= 0), owner=ri)
    return Frames(rq, rc, m, exc, status_df, cutoff)


def _owner(values: np.ndarray, ric: np.ndarray) -> np.ndarray:
    """values[ric], or placeholders when there are no requests (all receipts unknown)."""
    if len(values):
        return values[ric]
    return np.zeros(len(ric), dtype=values.dtype)


def _take(series: pd.Series, idx: np.ndarray) -> pd.Series:
    return series.take(np.asarray(idx, dtype=np.int64)).reset_index(drop=True)


def _drop_contested(auto: pd.DataFrame, key: str) -> pd.DataFrame:
    """Auto candidates that claim the same request are all withheld (never guess)."""
    return auto[~auto[key].duplicated(keep=False)]


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[np.asarray(rows, dtype=np.int64)] = True
    return out


def _scatter(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=object)
    out[:] = 0
    out[np.asarray(rows, dtype=np.int64)] = values
    return out


def _default_as_of(rc: pd.DataFrame) -> pd.Timestamp:
    """Deterministic 'now': the latest block time in the receipts (or the epoch)."""
    if len(rc) == 0:
        return pd.Timestamp(0, tz="UTC")
    return pd.Timestamp(rc["block_time"].max())


def _decimal(value: int, exponent: int) -> Decimal:
    return Decimal(value).scaleb(-exponent)
