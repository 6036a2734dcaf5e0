"""Rule 1, a request's own address: each request's in-window receipts applied in block order
until it is settled, exactly, with int64 for the requests whose sums cannot overflow.

A receipt that arrived after its request's quote expired counts at its value re-quoted at block
time (`late_equivalent`); without a rate for that time it counts as nothing and goes to a
person. Receipts at an address whose request was already settled are handed on to the pool
that rules 2 and 3 try.

Why the arithmetic is split: the allocation is the engine's hottest amount work (1.2 of 4.6 s
at 1M requests when an 18-decimal asset makes the amount column Python ints), and nearly all of
it fits int64. A request's rows take the int64 path when the bound below proves that no running
sum, remainder or excess of that request can overflow; the other requests (e.g. wei amounts
beyond 2**63) run the same formulas on Python ints. Both are exact, so the results are equal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from paybridge_reconciliation.amounts import (
    SplitInts,
    as_object,
    code_argsort,
    div_ceil,
    exact_ints,
    int64_split,
    sorted_group_cumsum_before,
    split_ints,
)
from paybridge_reconciliation.chain_order import ChainOrderReceipts
from paybridge_reconciliation.columns import take
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.exception_rows import ExceptionRows
from paybridge_reconciliation.gate import RoutedReceipts
from paybridge_reconciliation.rates import lookup_rates
from paybridge_reconciliation.reasons import Reason


@dataclass
class OwnAddressMatches:
    """Rule 1's outcome. Per receipt it applied (chain positions, grouped by request, in block
    order): the amounts applied, its confidence and what was left over; and the receipts that
    reached an address whose request earlier receipts had settled."""

    rows: np.ndarray
    applied_actual: np.ndarray  # in the receipt's own units
    applied_eq: np.ndarray  # in units of the request's quote
    confidence: np.ndarray
    excess: np.ndarray  # left over after its request was paid, in the receipt's own units
    settled_rows: np.ndarray


def match_own_address(
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    routed: RoutedReceipts,
    rates: pd.DataFrame | None,
    config: ReconConfig,
    exceptions: ExceptionRows,
) -> OwnAddressMatches:
    """Rule 1 over the free receipts inside their request's monitoring window (none when the
    rule is switched off); late receipts without a rate are added to ``exceptions``."""
    n = len(rc)
    ri = routed.ri
    amount = rc["amount"].to_numpy()
    if "own_address" in config.rules:
        in_window = routed.free & ~routed.after
    else:
        in_window = np.zeros(n, dtype=bool)
    late_rows = np.flatnonzero(in_window & routed.late)
    eq, no_rate = _quote_equivalents(rq, rc, routed, late_rows, rates, config)

    r1 = np.flatnonzero(in_window)
    r1 = r1[code_argsort(ri[r1], len(rq))]  # grouped by request, in block order
    # the amounts' int64 split was made as they were put in chain order (prepare_receipts);
    # the equivalents differ from the amounts at late rows only
    split = SplitInts(amount, rc["amount_int64"].to_numpy(), rc["amount_fits_int64"].to_numpy())
    own = allocate_in_block_order(
        r1, ri, _with_changes(split, eq, late_rows), split, split_ints(rq["amount_due"].to_numpy())
    )
    settled_before = own.settled_before
    exceptions.add_rows(r1[no_rate[r1] & ~settled_before], Reason.LATE_NO_RATE, amount, ri)
    keep = ~settled_before & ~no_rate[r1]
    rows = r1[keep]
    conf = config.confidence
    return OwnAddressMatches(
        rows=rows,
        applied_actual=exact_ints(own.applied_actual[keep]),
        applied_eq=exact_ints(own.applied_eq[keep]),
        confidence=np.where(routed.late[rows], conf.own_address_late, conf.own_address),
        excess=exact_ints(own.excess_actual[keep]),
        settled_rows=r1[settled_before],
    )


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


def _quote_equivalents(
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    routed: RoutedReceipts,
    late_rows: np.ndarray,
    rates: pd.DataFrame | None,
    config: ReconConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Each receipt's amount in units of its request's quote (the amount itself except at
    ``late_rows``), and the late receipts that have no rate at their block time."""
    n = len(rc)
    ri = routed.ri
    amount = rc["amount"].to_numpy()
    owner = ri[late_rows]
    late_rates = lookup_rates(
        pd.DataFrame(
            {
                "chain_id": rc["chain_id"].to_numpy()[late_rows],
                "asset": take(rc.in_input_order("asset"), rc.order[late_rows]),
                "currency": take(rq["invoice_currency"], owner),
                "at": routed.block_time[late_rows],
            }
        ),
        rates,
        "currency",
        "at",
    )
    has_rate = late_rates["source"].to_numpy(dtype=object) != ""
    no_rate = np.zeros(n, dtype=bool)
    no_rate[late_rows[~has_rate]] = True  # counts as nothing paid; settled addresses first

    eq = amount.copy()
    priced = late_rows[has_rate]
    if len(priced):
        eq = as_object(eq)
        eq[priced] = late_equivalent(
            amount[priced],
            late_rates["rate_scaled"].to_numpy(dtype=object)[has_rate],
            late_rates["decimals"].to_numpy()[has_rate],
            rq["currency_exponent"].to_numpy()[ri[priced]],
            rq["amount_due"].to_numpy()[ri[priced]],
            rq["invoice_minor"].to_numpy()[ri[priced]],
            config.rate_scale,
        )
        eq = exact_ints(eq)
    if no_rate.any():
        eq = as_object(eq).copy()
        eq[no_rate] = 0
        eq = exact_ints(eq)
    return eq, no_rate


def _with_changes(split: SplitInts, values: np.ndarray, changed: np.ndarray) -> SplitInts:
    """The split of ``values``, which equal ``split.values`` outside the rows ``changed``."""
    small, fits = split.int64.copy(), split.fits.copy()
    small[changed], fits[changed] = int64_split(values[changed])
    return SplitInts(values, small, fits)


#: a request takes the int64 path when |due| < 2**61 and the sum over its rows of the larger of
#: |amount| and |equivalent| < 2**60: every intermediate of `_allocate` (running sums,
#: remainders, excesses) is then below |due| + 2 x that sum < 2**62
_DUE_LIMIT = 2**61
_SUM_LIMIT_BITS = 60
_BOUND_SHIFT = 20  # low bits dropped when the sum is bounded in int64
_MOST_ROWS = 2**22  # rows of one request that cannot overflow that bound's int64 sum


@dataclass
class Allocation:
    """Per row of ``rows`` (grouped by request, in block order)."""

    settled_before: np.ndarray  # the request was settled by earlier receipts
    applied_eq: np.ndarray  # applied, in units of the original quote
    applied_actual: np.ndarray  # applied, in the receipt's own units
    excess_actual: np.ndarray  # left over, in the receipt's own units


def allocate_in_block_order(
    rows: np.ndarray, owner: np.ndarray, eq: SplitInts, amount: SplitInts, due: SplitInts
) -> Allocation:
    """Receipts ``rows`` (positions into eq, amount and owner, grouped by owner, in block
    order) applied to their owner's ``due``: each receipt takes what is left of the due after
    the earlier ones, at most its quote-equivalent ``eq``; a receipt only partly needed applies
    that share of its actual ``amount``, rounded up."""
    codes = owner[rows]
    fast = _small_requests(rows, codes, eq, amount, due)[codes]
    if fast.all():
        return _allocate(eq.int64[rows], amount.int64[rows], due.int64[codes], codes)
    if not fast.any():
        return _allocate(*_objects_at(rows, eq, amount), as_object(due.values)[codes], codes)
    part_fast, part_slow = np.flatnonzero(fast), np.flatnonzero(~fast)
    rf, rs = rows[part_fast], rows[part_slow]
    quick = _allocate(eq.int64[rf], amount.int64[rf], due.int64[codes[part_fast]], codes[part_fast])
    slow = _allocate(
        *_objects_at(rs, eq, amount), as_object(due.values)[codes[part_slow]], codes[part_slow]
    )
    n = len(rows)
    merged = {
        f.name: _interleaved(n, part_fast, getattr(quick, f.name), part_slow, getattr(slow, f.name))
        for f in fields(Allocation)
    }
    return Allocation(**merged)


def _objects_at(rows: np.ndarray, *columns: SplitInts) -> list[np.ndarray]:
    return [as_object(column.values)[rows] for column in columns]


def _small_requests(
    rows: np.ndarray, codes: np.ndarray, eq: SplitInts, amount: SplitInts, due: SplitInts
) -> np.ndarray:
    """Per request: its due and every row's values fit int64, |due| < 2**61 and the sum of
    max(|eq|, |amount|) over its rows < 2**60, so |due| + 2 x that sum < 2**62.

    The sum is bounded from above exactly in int64: each row adds its value with the low 20
    bits dropped, plus one (at most 2**40: a larger value fails the test on its own), so no
    group of fewer than 2**22 rows can overflow, and larger groups take the Python-int path."""
    fits = eq.fits[rows] & amount.fits[rows]
    largest = np.maximum(np.abs(eq.int64[rows]), np.abs(amount.int64[rows]))  # > -2**63: no wrap
    limit = 1 << (_SUM_LIMIT_BITS - _BOUND_SHIFT)
    coarse = np.where(fits, np.minimum((largest >> _BOUND_SHIFT) + 1, limit), limit)
    small = due.fits & (np.abs(due.int64) < _DUE_LIMIT)  # 0 where it does not fit
    if len(rows) == 0:
        return small
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])  # rows are grouped by code
    group = codes[starts]
    small[group] &= np.add.reduceat(coarse, starts) < limit
    small[group] &= np.diff(np.r_[starts, len(rows)]) < _MOST_ROWS
    return small


def _allocate(eq: np.ndarray, amount: np.ndarray, due: np.ndarray, codes: np.ndarray) -> Allocation:
    """The allocation's formulas, on int64 or Python-int arrays alike (rows grouped by code)."""
    before = sorted_group_cumsum_before(eq, codes)
    remaining_before = due - before
    settled_before = np.asarray(remaining_before <= 0, dtype=bool)
    applied_eq = np.where(eq < remaining_before, eq, remaining_before)
    full = np.asarray(eq - applied_eq <= 0, dtype=bool)
    applied_actual = np.where(full, amount, applied_eq)
    requoted = np.flatnonzero(~full & ~settled_before & np.asarray(eq != amount, dtype=bool))
    if len(requoted):
        # a partly needed late receipt: its actual amount in proportion, rounded up; as
        # 0 < applied < eq there, never more than the amount (an int64 column stays int64).
        # Rows settled before are dropped by the caller: their values are not used.
        share = div_ceil(
            as_object(amount[requoted]) * as_object(applied_eq[requoted]),
            as_object(eq[requoted]),
        )
        applied_actual = applied_actual.copy()
        applied_actual[requoted] = share.astype(applied_actual.dtype)
    return Allocation(settled_before, applied_eq, applied_actual, amount - applied_actual)


def _interleaved(
    n: int, rows_a: np.ndarray, a: np.ndarray, rows_b: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """One array of n rows with a at rows_a and b at rows_b (object if either is)."""
    kind = object if object in (a.dtype, b.dtype) else np.result_type(a, b)
    out = np.empty(n, dtype=kind)
    out[rows_a] = a
    out[rows_b] = b
    return out
