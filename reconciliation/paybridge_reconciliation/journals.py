"""Settlement journals in the invoice currency, two per settled request, each balanced.

payment:  Dr crypto clearing (C - W + K), Dr write-off W  /  Cr accounts receivable C,
          Cr accounts receivable K (the overpayment left unapplied: the customer's credit
          inside A/R, as NetSuite keeps an unapplied payment)
deposit:  Dr digital asset FV  /  Cr crypto clearing (C - W + K), gain (Cr) or loss (Dr)
C = invoice amount applied, W = within-tolerance shortfall, K = unapplied overpayment at fair
value, FV = fair value of everything received at its block time (rate file, or the locked
quote when no rate is known). All amounts are integer minor units; gain/loss is the balancing
figure, so each journal balances to the cent by construction (and tests check it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import (
    as_object,
    div_round_half_even,
    exact_ints,
    group_sum,
    mul_div_half_even,
    pow10,
    small_ints,
    strip_pow10,
    unify,
)
from paybridge_reconciliation.arrow_bytes import strictly_ascending
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.fixed_point import INT64_MIN
from paybridge_reconciliation.journal_amounts import line_amounts_text
from paybridge_reconciliation.labels import category, coded
from paybridge_reconciliation.memory import give_back_memory
from paybridge_reconciliation.rates import lookup_rates
from paybridge_reconciliation.side_thread import side_thread
from paybridge_reconciliation.times import utc_naive

if TYPE_CHECKING:
    from paybridge_reconciliation.chain_order import ChainOrderReceipts

JOURNAL_COLUMNS = [
    "journal_id",
    "request_id",
    "invoice_id",
    "customer_id",
    "currency",
    "line",
    "account",
    "debit",
    "credit",
    "reason_code",
    "memo",
]


def fair_values(
    amounts: np.ndarray,
    ri: np.ndarray,
    rpos: np.ndarray,
    rq: pd.DataFrame,
    rc: ChainOrderReceipts,
    rates: pd.DataFrame | None,
    config: ReconConfig,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Fair value (minor units, half-even) of each allocation, and the rate evidence used.
    The values are int64 when every one is, else Python ints."""
    keys = pd.DataFrame(
        {
            "chain_id": rc["chain_id"].to_numpy()[rpos],
            "asset": rc.coded_at("asset", rpos),
            "currency": coded(rq["invoice_currency"], ri),
            "at": utc_naive(rc["block_time"])[rpos],
        }
    )
    found = lookup_rates(keys, rates, "currency", "at")
    has_rate = (found["source"] != "").to_numpy(dtype=bool)  # compared in Arrow, no str objects
    exponent = rq["currency_exponent"].to_numpy()[ri].astype(np.int64)
    amt = as_object(amounts)
    parts: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, their fair values)
    quoted = ~has_rate
    if quoted.any():
        due = rq["amount_due"].to_numpy()[ri][quoted]
        invoice = rq["invoice_minor"].to_numpy()[ri][quoted]
        parts.append((quoted, mul_div_half_even(amt[quoted], invoice, due, int64_if_all_fit=True)))
    if has_rate.any():
        scaled = found["rate_scaled"].to_numpy(dtype=object)
        decimals = found["decimals"].to_numpy().astype(np.int64)
        rate_row = found["rate_row"].to_numpy(np.int64)
        # few distinct (currency exponent, token decimals): scalar powers of ten per group
        combos = pd.DataFrame({"e": exponent[has_rate], "d": decimals[has_rate]}).drop_duplicates()
        for e, d in combos.itertuples(index=False):
            sel = has_rate & (exponent == e) & (decimals == d)
            # value = amt * rate / 10**shift, half-even; the rate's trailing zeros (rate file
            # rows, a small table) cancel against 10**shift, so amt x mantissa fits int64 more
            shift = config.rate_scale + int(d) - int(e)
            if shift < 0:  # an exact product (a currency with more decimals than the token)
                num = amt[sel] * scaled[sel] * (10 ** int(e))
                parts.append((sel, div_round_half_even(num, 10 ** (config.rate_scale + int(d)))))
                continue
            zeros, mantissa = strip_pow10(rates["rate_scaled"].to_numpy(), shift)
            rows = rate_row[sel]
            parts.append(
                (
                    sel,
                    mul_div_half_even(
                        amt[sel],
                        small_ints(mantissa)[rows],
                        pow10(shift - zeros[rows]),
                        int64_if_all_fit=True,
                    ),
                )
            )
    # int64 when every fair value fits (fiat minor units nearly always do, even where amount x
    # rate needed Python ints): its readers then take it as it is, without a Python int per
    # allocation made here and read back there
    value, *filled = unify(np.zeros(len(amt), np.int64), *[small_ints(v) for _, v in parts])
    for (rows, _), values in zip(parts, filled, strict=True):
        value[rows] = values
    # lookup_rates leaves rate_text '' where there is no rate; the quote is the source then
    source = pc.if_else(
        pa.array(has_rate),
        pa.array(found["source"]).cast(pa.large_string()),
        pa.scalar("quote", pa.large_string()),
    )
    evidence = pd.DataFrame(
        {
            "rate": found["rate_text"].astype("str"),
            "rate_source": pd.Series(source, dtype="str"),
            "rate_valid_from": found["valid_from"],
        }
    )
    return value, evidence


def take(series: pd.Series, idx: np.ndarray) -> pd.Series:
    """``series`` at positions ``idx``, indexed from 0 (publishing's gather of a column)."""
    return series.take(np.asarray(idx, dtype=np.int64)).reset_index(drop=True)


def _int64_if_all_fit(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays as int64 when every value of every one fits (and can be negated), else as
    Python-int object arrays (exact either way)."""
    small = [small_ints(np.asarray(a)) for a in arrays]
    if all(a.dtype != object for a in small) and all(
        len(a) == 0 or int(a.min()) > INT64_MIN for a in small
    ):
        return [a.astype(np.int64) for a in small]
    return [as_object(np.asarray(a)) for a in arrays]


def _small_or_object(*arrays: np.ndarray) -> list[np.ndarray]:
    """int64 arrays when every value is below 2**59 in magnitude, so that sums and differences
    of up to 8 of them cannot overflow; else Python-int object arrays (exact either way)."""
    small = [small_ints(np.asarray(a)) for a in arrays]
    if all(a.dtype != object for a in small) and all(
        len(a) == 0 or max(abs(int(a.max())), abs(int(a.min()))) < 2**59 for a in small
    ):
        return [a.astype(np.int64) for a in small]
    return [as_object(np.asarray(a)) for a in arrays]


def build_journals(
    rq: pd.DataFrame,
    status: pd.Series,
    applied_eq: np.ndarray,
    alloc_ri: np.ndarray,
    alloc_value: np.ndarray,
    credit_ri: np.ndarray,
    credit_value: np.ndarray,
    config: ReconConfig,
    amounts_beside: bool = True,
) -> pd.DataFrame:
    """The published journal lines (JOURNAL_COLUMNS), amounts as exact decimal text: formatted
    here so that the integer amounts of 3M lines are never held beside their text.
    ``amounts_beside``: the amounts' text on a thread of its own, beside the id columns'."""
    n = len(rq)
    received = group_sum(exact_ints(np.asarray(alloc_value)), alloc_ri, n)
    credit = group_sum(exact_ints(np.asarray(credit_value)), credit_ri, n)
    touched = np.zeros(n, dtype=bool)
    touched[alloc_ri] = True
    touched[credit_ri] = True
    idx = np.flatnonzero(touched)
    if len(idx) == 0:
        return pd.DataFrame(columns=JOURNAL_COLUMNS)
    invoice = rq["invoice_minor"].to_numpy()[idx]
    due = rq["amount_due"].to_numpy()[idx]
    applied = np.asarray(applied_eq)[idx]
    st = pa.array(take(status, idx))  # compared as Arrow text: no Python str per request
    settled = np.asarray(pc.is_in(st, pa.array(["paid", "paid_within_tolerance", "overpaid"])))
    within = np.asarray(pc.equal(st, "paid_within_tolerance"))
    # the invoice amount at the applied amount is read only where the invoice is not settled in
    # full (A/R credited at it) or within tolerance (the write-off): computed there only, the
    # invoice amount elsewhere. The only product of token units (int64 where it cannot overflow)
    quoted = np.flatnonzero(~settled | within)
    part = small_ints(
        mul_div_half_even(applied[quoted], invoice[quoted], due[quoted], int64_if_all_fit=True)
    )
    at_quote, part = unify(np.array(invoice, copy=True), part)
    at_quote[quoted] = part
    del due, applied, part
    invoice, at_quote, received, cust_credit = _small_or_object(
        invoice, at_quote, received[idx], credit[idx]
    )
    ar_credit = np.where(settled, invoice, at_quote)
    write_off = np.where(within, invoice - at_quote, np.zeros_like(invoice))
    fair_value = received + cust_credit
    clearing = ar_credit - write_off + cust_credit
    gain = fair_value - clearing  # > 0 gain (credit), < 0 loss (debit)
    # journal amounts are fiat minor units: int64 nearly always (the lines are then gathered
    # and formatted as int64, not as millions of Python ints); Python ints when one is not
    clearing, write_off, ar_credit, cust_credit, fair_value, gain = _int64_if_all_fit(
        clearing, write_off, ar_credit, cust_credit, fair_value, gain
    )

    give_back_memory(n)  # the Python-int amounts of every request, before the lines
    accounts = config.accounts
    # account and reason texts as small label tables + integer codes (one Arrow take each)
    asset_codes, asset_uniques = pd.factorize(take(rq["asset"], idx))
    fallback = accounts.digital_asset["crypto_asset"]
    digital_names = [
        accounts.digital_asset.get(config.asset_class(str(a)), fallback) for a in asset_uniques
    ]
    group_codes, group_uniques = pd.factorize(take(rq["tolerance_group"], idx))
    groups = [config.tolerance_groups[str(g)] for g in group_uniques]
    reason_names = [g.write_off_reason for g in groups]
    write_off_names = [g.write_off_account or accounts.write_off for g in groups]
    zero = np.zeros(len(idx), dtype=clearing.dtype)
    if clearing.dtype == object:
        zero[:] = 0
    always = np.ones(len(idx), dtype=bool)
    fixed = [
        accounts.crypto_clearing,
        accounts.accounts_receivable,
        accounts.settlement_gain,
        accounts.settlement_loss,
    ]
    # digital asset account of asset code a: 4 + a; write-off account of group code g: after them
    account_labels = fixed + digital_names + write_off_names
    digital = len(fixed) + np.asarray(asset_codes, dtype=np.int64)
    write_off_account = len(fixed) + len(digital_names) + np.asarray(group_codes, dtype=np.int64)
    reason_labels = ["", *reason_names]  # write-off reason of group code g: 1 + g
    write_off_reason = 1 + np.asarray(group_codes, dtype=np.int64)
    # (kind, line, account code (scalar or per request), debit, credit, keep, reason?, memo),
    # in journal-line order: payment lines 1-4, then deposit lines 1-4
    specs = [
        ("payment", 1, 0, clearing, zero, always, False, "customer payment"),
        (
            "payment",
            2,
            write_off_account,
            write_off,
            zero,
            write_off != 0,
            True,
            "within-tolerance shortfall",
        ),
        ("payment", 3, 1, zero, ar_credit, always, False, "invoice amount applied"),
        (
            "payment",
            4,
            1,
            zero,
            cust_credit,
            cust_credit != 0,
            False,
            "overpayment left unapplied: customer credit in accounts receivable",
        ),
        (
            "deposit",
            1,
            digital,
            fair_value,
            zero,
            always,
            False,
            "received at fair value at block time",
        ),
        ("deposit", 2, 0, zero, clearing, always, False, "clear customer payment"),
        ("deposit", 3, 2, zero, gain, gain > 0, False, "settlement gain"),
        ("deposit", 4, 3, -gain, zero, gain < 0, False, "settlement loss"),
    ]
    # one row per touched request, one column per spec: the kept cells read row by row are the
    # lines in (request, kind, line) order, with no sort. Cell c of the flattened grid is
    # request c // 8, spec c % 8; one index array for all, small dtypes (peak memory: 3.2M lines)
    keep = np.column_stack([np.broadcast_to(np.asarray(s[5], dtype=bool), len(idx)) for s in specs])
    cell = np.flatnonzero(keep)
    width = keep.shape[1]
    del keep
    spec = (cell % width).astype(np.int8)
    rows = idx[cell // width]

    def cells(column: int, dtype: object) -> np.ndarray:
        grid = np.empty((len(idx), width), dtype=dtype)
        for j, s in enumerate(specs):
            grid[:, j] = s[column]
        return grid.ravel()[cell]

    reason = np.zeros(len(cell), dtype=np.min_scalar_type(len(reason_labels)))
    written_off = np.flatnonzero(spec == 1)  # spec 1: the write-off line, its group's reason
    reason[written_off] = write_off_reason[cell[written_off] // width]

    def amounts_text() -> list[pd.Series]:
        return line_amounts_text(
            [[s[3] for s in specs], [s[4] for s in specs]],
            zero,
            cell // width,
            spec,
            rq["currency_exponent"].to_numpy()[idx],
        )

    currency_codes, currency_uniques = pd.factorize(rq["invoice_currency"])
    # the amounts' text on a second thread beside the ids' here: both are numpy and Arrow work
    # that releases the GIL, 0.2-0.3 s each at 1M requests (not when the caller already keeps
    # the other core busy: `result.publish_tables(parallel=True)`)
    with side_thread(amounts_beside, "recon-journal-amounts") as submit:
        amounts = submit(amounts_text)
        ids = {
            "journal_id": _journal_ids(rq["request_id"], rows, spec // 4),
            "request_id": _per_request(rq["request_id"], rows),
            "invoice_id": _per_request(rq["invoice_id"], rows),
            "customer_id": _per_request(rq["customer_id"], rows),
        }
        debit, credit = amounts.result()
    return pd.DataFrame(
        {
            **ids,
            "currency": category(currency_codes[rows], currency_uniques.tolist()),
            "line": (spec % 4 + 1).astype(np.int64),
            "account": category(cells(2, np.min_scalar_type(len(account_labels))), account_labels),
            "debit": debit,
            "credit": credit,
            "reason_code": category(reason, reason_labels),
            "memo": category(spec, [s[-1] for s in specs]),
        }
    )


def _per_request(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """``values`` at request positions ``rows`` (each request has up to 8 journal lines), as a
    Categorical over the request column's distinct values: each id is stored once, not once
    per line (about 4M lines for 1M requests). The categories are in text order, so sorting
    the column sorts it as text; the CSV writer writes the values."""
    if strictly_ascending(pa.array(values)):  # request ids (requests are in request_id order)
        codes, categories = np.arange(len(values)), _text_index(values)
    else:
        codes, uniques = pd.factorize(values, sort=True)
        if (codes < 0).any():  # a missing id: plain text, as before
            return take(values, rows)
        categories = _text_index(uniques)
    return _categorical(codes[rows], categories)


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Series:
    """A Categorical over ``categories``, which the callers build unique (strictly ascending
    text, or ranked distinct ids), so pandas' uniqueness check is skipped.

    Why: that check hashes every category into a Python-object index that the column then keeps
    for its lifetime (about 0.5 GB for the 2M journal ids and 3M request, invoice and customer
    ids at 1M requests: the largest part of reconcile-files' peak memory). The journals are
    written and totalled from codes and categories, which never need that index."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)  # pandas' own unchecked path
    dtype = fast(categories, ordered=False) if fast else pd.CategoricalDtype(categories)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype, validate=False))


def _text_index(values: pd.Series | pd.api.extensions.ExtensionArray | pa.Array) -> pd.Index:
    """Categories as one contiguous Arrow text array: the CSV writer's dictionary then converts
    in no time (categories kept in chunks cost about 0.7 s per million to convert)."""
    text = pa.array(values, pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return pd.Index(pd.Series(text, dtype="str"))


def _journal_ids(request_id: pd.Series, rows: np.ndarray, kind: np.ndarray) -> pd.Series:
    """'<request_id>:payment' / '<request_id>:deposit' per line, as a Categorical of the two
    ids of every request (built once per request, not once per line)."""
    ids = pa.array(request_id, pa.large_string())
    if isinstance(ids, pa.ChunkedArray):  # large columns come in chunks
        ids = ids.combine_chunks()
    if not strictly_ascending(ids):  # not unique (frames built in code): plain text
        text = pc.take(pa.array([":payment", ":deposit"], pa.large_string()), pa.array(kind))
        return take(request_id, rows) + pd.Series(text, dtype="str")
    # code 2i + (1 - k): request position i, kind k (0 payment, 1 deposit); in text order
    # whenever the ids are, so the categories need no ranking (sorting like text)
    interleaved, same_width = _suffixed_pairs(ids, ":deposit", ":payment")  # 'd' < 'p'
    # ids of one width in ascending order stay so with a suffix; else unless one id is another's
    # prefix ('1:' > '10')
    if same_width or strictly_ascending(interleaved):
        rank, categories = np.arange(len(interleaved)), interleaved
    else:
        rank = np.asarray(pc.rank(interleaved, sort_keys="ascending", tiebreaker="first")) - 1
        categories = interleaved.take(pa.array(np.argsort(rank)))
    categories = _text_index(categories)
    codes = rank[2 * np.asarray(rows, dtype=np.int64) + 1 - kind]
    return _categorical(codes, categories)


def _suffixed_pairs(ids: pa.LargeStringArray, first: str, second: str) -> tuple[pa.Array, bool]:
    """``id + first`` and ``id + second`` for every id, interleaved (rows 2i and 2i + 1), and
    whether every id has the same width. Ids without nulls.

    Why: ids of one width (ERP document numbers, generated ids) are a byte matrix, so their
    pairs are two copies of it with a suffix column each, one numpy pass; joining the suffixes
    and interleaving the halves by a 2M-row take cost about 0.1 s at 1M requests."""
    n, tail = len(ids), len(first.encode())
    widths = np.asarray(pc.binary_length(ids), dtype=np.int64)
    width = int(widths[0]) if n else 0
    if not width or len(second.encode()) != tail or int(widths.min()) != int(widths.max()):
        both = [
            pc.binary_join_element_wise(
                ids, pa.scalar(suffix, pa.large_string()), pa.scalar("", pa.large_string())
            )
            for suffix in (first, second)
        ]
        interleaved = pa.concat_arrays(both).take(
            pa.array(np.arange(2 * n).reshape(2, -1).T.ravel())
        )
        return interleaved, False
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[ids.offset : ids.offset + n + 1]
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    pairs = np.empty((n, 2, width + tail), dtype=np.uint8)
    pairs[:, :, :width] = data.reshape(n, 1, width)
    pairs[:, 0, width:] = np.frombuffer(first.encode(), dtype=np.uint8)
    pairs[:, 1, width:] = np.frombuffer(second.encode(), dtype=np.uint8)
    pair_offsets = np.arange(2 * n + 1, dtype=np.int64) * (width + tail)
    text = pa.LargeStringArray.from_buffers(2 * n, pa.py_buffer(pair_offsets), pa.py_buffer(pairs))
    return text, True
