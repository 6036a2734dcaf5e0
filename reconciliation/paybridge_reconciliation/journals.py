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

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import (
    exact_ints,
    group_sum,
    int64_if_all_fit,
    mul_div_half_even,
    small_ints,
    unify,
)
from paybridge_reconciliation.columns import take
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.journal_amounts import line_amounts_text
from paybridge_reconciliation.journal_ids import journal_ids, per_request
from paybridge_reconciliation.labels import category
from paybridge_reconciliation.memory import give_back_memory
from paybridge_reconciliation.side_thread import side_thread

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


@dataclass
class SettlementAmounts:
    """The journals' amounts (integer minor units) of each request with money applied or left
    as its customer's credit, at request positions ``idx``; int64 when every value fits."""

    idx: np.ndarray
    clearing: np.ndarray  # C - W + K: debited to clearing by the payment, credited by the deposit
    write_off: np.ndarray  # W: the within-tolerance shortfall
    ar_credit: np.ndarray  # C: the invoice amount applied
    cust_credit: np.ndarray  # K: the overpayment left unapplied, at fair value
    fair_value: np.ndarray  # FV: everything received, at its block time
    gain: np.ndarray  # FV - clearing: > 0 a gain (credit), < 0 a loss (debit)


def settlement_amounts(
    rq: pd.DataFrame,
    status: pd.Series,
    applied_eq: np.ndarray,
    alloc_ri: np.ndarray,
    alloc_value: np.ndarray,
    credit_ri: np.ndarray,
    credit_value: np.ndarray,
) -> SettlementAmounts:
    """The amounts of the module docstring's two journals, per request touched by an
    allocation (``alloc_value``: fair values) or a customer credit (``credit_value``)."""
    n = len(rq)
    received = group_sum(exact_ints(np.asarray(alloc_value)), alloc_ri, n)
    credit = group_sum(exact_ints(np.asarray(credit_value)), credit_ri, n)
    touched = np.zeros(n, dtype=bool)
    touched[alloc_ri] = True
    touched[credit_ri] = True
    idx = np.flatnonzero(touched)
    if len(idx) == 0:
        return SettlementAmounts(idx, *[np.zeros(0, dtype=np.int64)] * 6)
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
    # below 2**59 in magnitude, the sums and differences of up to 8 of them below cannot
    # overflow int64
    invoice, at_quote, received, cust_credit = int64_if_all_fit(
        invoice, at_quote, received[idx], credit[idx], below=2**59
    )
    ar_credit = np.where(settled, invoice, at_quote)
    write_off = np.where(within, invoice - at_quote, np.zeros_like(invoice))
    fair_value = received + cust_credit
    clearing = ar_credit - write_off + cust_credit
    gain = fair_value - clearing
    # journal amounts are fiat minor units: int64 nearly always (the lines are then gathered
    # and formatted as int64, not as millions of Python ints); Python ints when one is not
    return SettlementAmounts(
        idx,
        *int64_if_all_fit(clearing, write_off, ar_credit, cust_credit, fair_value, gain),
    )


@dataclass
class _Accounts:
    """Account and write-off reason texts as small label tables with integer codes: fixed
    codes for clearing (0), receivable (1), gain (2) and loss (3), and per request (positions
    ``SettlementAmounts.idx``) the codes of its digital asset and write-off accounts."""

    labels: list[str]
    digital: np.ndarray
    write_off: np.ndarray
    reason_labels: list[str]
    write_off_reason: np.ndarray


def _accounts(rq: pd.DataFrame, idx: np.ndarray, config: ReconConfig) -> _Accounts:
    accounts = config.accounts
    asset_codes, asset_uniques = pd.factorize(take(rq["asset"], idx))
    fallback = accounts.digital_asset["crypto_asset"]
    digital_names = [
        accounts.digital_asset.get(config.asset_class(str(a)), fallback) for a in asset_uniques
    ]
    group_codes, group_uniques = pd.factorize(take(rq["tolerance_group"], idx))
    groups = [config.tolerance_groups[str(g)] for g in group_uniques]
    fixed = [
        accounts.crypto_clearing,
        accounts.accounts_receivable,
        accounts.settlement_gain,
        accounts.settlement_loss,
    ]
    # digital asset account of asset code a: 4 + a; write-off account of group code g: after them
    write_off_names = [g.write_off_account or accounts.write_off for g in groups]
    group_codes = np.asarray(group_codes, dtype=np.int64)
    return _Accounts(
        labels=fixed + digital_names + write_off_names,
        digital=len(fixed) + np.asarray(asset_codes, dtype=np.int64),
        write_off=len(fixed) + len(digital_names) + group_codes,
        reason_labels=["", *[g.write_off_reason for g in groups]],  # of group code g: 1 + g
        write_off_reason=1 + group_codes,
    )


class _Line(NamedTuple):
    """One of the eight lines a request's two journals may have."""

    kind: str  # journal: payment or deposit
    line: int
    account: int | np.ndarray  # account code (`_Accounts`), one for all or per request
    debit: np.ndarray  # per request
    credit: np.ndarray
    kept: np.ndarray  # per request: the line is written
    memo: str


def _lines(amounts: SettlementAmounts, accounts: _Accounts) -> tuple[list[_Line], np.ndarray]:
    """The eight lines in journal-line order (payment lines 1-4, then deposit lines 1-4), and
    the zero amounts they share (the other side of each line)."""
    a = amounts
    zero = np.zeros(len(a.idx), dtype=a.clearing.dtype)
    if a.clearing.dtype == object:
        zero[:] = 0
    always = np.ones(len(a.idx), dtype=bool)
    lines = [
        _Line("payment", 1, 0, a.clearing, zero, always, "customer payment"),
        _Line(
            "payment",
            2,
            accounts.write_off,
            a.write_off,
            zero,
            a.write_off != 0,
            "within-tolerance shortfall",
        ),
        _Line("payment", 3, 1, zero, a.ar_credit, always, "invoice amount applied"),
        _Line(
            "payment",
            4,
            1,
            zero,
            a.cust_credit,
            a.cust_credit != 0,
            "overpayment left unapplied: customer credit in accounts receivable",
        ),
        _Line(
            "deposit",
            1,
            accounts.digital,
            a.fair_value,
            zero,
            always,
            "received at fair value at block time",
        ),
        _Line("deposit", 2, 0, zero, a.clearing, always, "clear customer payment"),
        _Line("deposit", 3, 2, zero, a.gain, a.gain > 0, "settlement gain"),
        _Line("deposit", 4, 3, -a.gain, zero, a.gain < 0, "settlement loss"),
    ]
    return lines, zero


WRITE_OFF_LINE = 1  # position in `_lines` of the only line with a reason code


def build_journals(
    rq: pd.DataFrame,
    amounts: SettlementAmounts,
    config: ReconConfig,
    amounts_beside: bool = True,
) -> pd.DataFrame:
    """The published journal lines (JOURNAL_COLUMNS) of ``amounts`` (`settlement_amounts`),
    amounts as exact decimal text: formatted here so that the integer amounts of 3M lines are
    never held beside their text.
    ``amounts_beside``: the amounts' text on a thread of its own, beside the id columns'."""
    if len(amounts.idx) == 0:
        return pd.DataFrame(columns=JOURNAL_COLUMNS)
    give_back_memory(len(rq))  # the Python-int amounts of every request, before the lines
    idx = amounts.idx
    accounts = _accounts(rq, idx, config)
    lines, zero = _lines(amounts, accounts)
    # one row per touched request, one column per possible line: the kept cells read row by row
    # are the lines in (request, kind, line) order, with no sort. Cell c of the flattened grid
    # is request c // 8, line c % 8; one index array for all, small dtypes (peak memory: 3.2M
    # lines)
    keep = np.column_stack(
        [np.broadcast_to(np.asarray(s.kept, dtype=bool), len(idx)) for s in lines]
    )
    cell = np.flatnonzero(keep)
    width = keep.shape[1]
    del keep
    spec = (cell % width).astype(np.int8)  # each line's position in `lines`
    rows = idx[cell // width]

    reason = np.zeros(len(cell), dtype=np.min_scalar_type(len(accounts.reason_labels)))
    written_off = np.flatnonzero(spec == WRITE_OFF_LINE)  # its tolerance group's reason
    reason[written_off] = accounts.write_off_reason[cell[written_off] // width]

    def amounts_text() -> list[pd.Series]:
        return line_amounts_text(
            [[s.debit for s in lines], [s.credit for s in lines]],
            zero,
            cell // width,
            spec,
            rq["currency_exponent"].to_numpy()[idx],
        )

    deposit = np.array([s.kind == "deposit" for s in lines], dtype=np.int64)
    currency_codes, currency_uniques = pd.factorize(rq["invoice_currency"])
    # the amounts' text on a second thread beside the ids' here: both are numpy and Arrow work
    # that releases the GIL, 0.2-0.3 s each at 1M requests (not when the caller already keeps
    # the other core busy: `result.publish_tables(parallel=True)`)
    with side_thread(amounts_beside, "recon-journal-amounts") as submit:
        pending = submit(amounts_text)
        ids = {
            "journal_id": journal_ids(rq["request_id"], rows, deposit[spec]),
            "request_id": per_request(rq["request_id"], rows),
            "invoice_id": per_request(rq["invoice_id"], rows),
            "customer_id": per_request(rq["customer_id"], rows),
        }
        debit, credit = pending.result()
    account_grid = np.empty((len(idx), width), dtype=np.min_scalar_type(len(accounts.labels)))
    for j, s in enumerate(lines):
        account_grid[:, j] = s.account
    account = account_grid.ravel()[cell]
    del account_grid
    return pd.DataFrame(
        {
            **ids,
            "currency": category(currency_codes[rows], currency_uniques.tolist()),
            "line": np.array([s.line for s in lines], dtype=np.int64)[spec],
            "account": category(account, accounts.labels),
            "debit": debit,
            "credit": credit,
            "reason_code": category(reason, accounts.reason_labels),
            "memo": category(spec, [s.memo for s in lines]),
        }
    )
