"""The figures the reports lead with, as numbers (never strings like ``'780 (78.0%)'``).

Grand totals per invoice currency come from the engine's journals, so they agree with the
ledger by construction: received at fair value = debits to the digital-asset accounts,
applied = credits to accounts receivable, written off = debits to the write-off account,
gain/loss = credits less debits on the gain and loss accounts, open = invoiced - applied.
All sums are exact ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_PREC, Decimal, localcontext

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.fixed_point import decimal_widths
from paybridge_reconciliation.result import ReconResult

CLEARED = ("paid", "paid_within_tolerance", "overpaid")
TOTAL_COLUMNS = [
    "currency",
    "requests",
    "invoiced",
    "received_fair_value",
    "applied",
    "written_off",
    "customer_credit",
    "gain_loss",
    "open",
]
TOTAL_LABELS = {
    "currency": "Currency",
    "requests": "Requests",
    "invoiced": "Invoiced",
    "received_fair_value": "Received (fair value)",
    "applied": "Applied to invoices",
    "written_off": "Written off",
    "customer_credit": "Customer credit",
    "gain_loss": "Gain (+) / loss (-)",
    "open": "Open (invoiced - applied)",
}


@dataclass(frozen=True)
class SummaryItem:
    label: str
    value: int | Decimal
    kind: str  # "count" or "ratio"


def decimal_sum(values: pd.Series, rows: np.ndarray | None = None) -> Decimal:
    """Exact sum of the decimal text cells of ``values`` (where ``rows`` is True), blank and
    'nan' cells skipped.

    Why Arrow: the reports sum the journals' debit and credit text several times per currency;
    a Decimal per cell took 8-10 s at 1M requests (3.2M lines). Arrow parses the cells into
    decimal128 at their widest scale and sums them exactly; cells Arrow does not read the way
    Decimal does (exponents, spaces) or totals that could pass 37 digits are summed by Decimal.
    """
    cells = _text_cells(values)
    if rows is not None:
        cells = cells.filter(pa.array(rows, pa.bool_()))
    keep = pc.fill_null(pc.and_(pc.not_equal(cells, ""), pc.not_equal(cells, "nan")), False)
    cells = cells.filter(keep)
    if len(cells) == 0:
        return Decimal(0)
    whole, decimals = decimal_widths(cells)
    scale = int(decimals.max())
    # every cell at the widest scale, and their sum, within 37 digits (decimal128 wraps around
    # silently past 38, when parsing a cell and when summing)
    if (
        int(whole.max()) + scale + len(str(len(cells))) <= 37
        and not pc.any(pc.match_substring_regex(cells, r"[eE\s]")).as_py()
    ):
        try:
            parsed = cells.cast(pa.decimal128(38, scale))
        except pa.ArrowInvalid:
            pass  # not a plain decimal: Decimal decides (and names what it cannot read)
        else:
            return pc.sum(parsed).as_py()
    with localcontext() as exact:
        exact.prec = MAX_PREC
        return sum((Decimal(v) for v in cells.to_pylist()), Decimal(0))


def _text_cells(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column as Arrow text: Arrow-backed ``str`` columns as they are (no copy)."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pa.array(values)
    return pa.array(values.astype(str).to_numpy(dtype=object), pa.large_string())


def _is_payment(journal_id: pd.Series) -> pd.Series:
    """Lines of payment journals; a Categorical id column is tested once per distinct id (no
    text copy of millions of lines)."""
    if isinstance(journal_id.dtype, pd.CategoricalDtype):
        payment = journal_id.cat.categories.astype(str).str.endswith(":payment")
        codes = journal_id.cat.codes.to_numpy()
        return pd.Series((codes >= 0) & np.asarray(payment, bool)[codes], index=journal_id.index)
    return journal_id.astype(str).str.endswith(":payment")


def _is_line(line: pd.Series, number: int) -> pd.Series:
    if pd.api.types.is_integer_dtype(line.dtype):
        return line == number
    return line.astype(str) == str(number)


def grand_totals(result: ReconResult, config: ReconConfig) -> pd.DataFrame:
    """One row per invoice currency; every amount a Decimal at the currency's exponent."""
    accounts = config.accounts
    status = result.requests_status
    journals = result.journals

    def account_in(names: set[str]) -> np.ndarray:
        return journals["account"].isin(names).to_numpy(bool)

    receivable = account_in({accounts.accounts_receivable})
    digital = account_in(set(accounts.digital_asset.values()))
    pnl = account_in({accounts.settlement_gain, accounts.settlement_loss})
    write_offs = account_in(
        {accounts.write_off}
        | {g.write_off_account for g in config.tolerance_groups.values() if g.write_off_account}
    )
    # an overpayment's unapplied rest is credited to A/R too (the customer's credit there):
    # the payment journal's line 4 (reconciliation/paybridge_reconciliation/journals.py)
    unapplied = (_is_payment(journals["journal_id"]) & _is_line(journals["line"], 4)).to_numpy(bool)
    currencies = set(status["invoice_currency"].unique()) | set(journals["currency"].unique())
    rows = []
    for currency in sorted(currencies):
        mine = (status["invoice_currency"] == currency).to_numpy(bool)
        lines = (journals["currency"] == currency).to_numpy(bool)

        def on(account: np.ndarray, side: str, lines: np.ndarray = lines) -> Decimal:
            return decimal_sum(journals[side], lines & account)

        invoiced = decimal_sum(status["invoice_amount"], mine)
        credit = decimal_sum(journals["credit"], lines & unapplied)
        applied = on(receivable, "credit") - on(receivable, "debit") - credit
        rows.append(
            {
                "currency": currency,
                "requests": int(mine.sum()),
                "invoiced": invoiced,
                "received_fair_value": on(digital, "debit") - on(digital, "credit"),
                "applied": applied,
                "written_off": on(write_offs, "debit"),
                "customer_credit": credit,
                "gain_loss": on(pnl, "credit") - on(pnl, "debit"),
                "open": invoiced - applied,
            }
        )
    return pd.DataFrame(rows, columns=TOTAL_COLUMNS)


def summary_items(result: ReconResult) -> list[SummaryItem]:
    status = result.requests_status["status"]
    total = len(status)
    cleared = int(status.isin(CLEARED).sum())
    touched = int((result.requests_status["receipts"] > 0).sum())
    auto = int((result.matches["decision"] == "auto").sum())

    def ratio(a: int) -> Decimal:
        return (Decimal(a) / Decimal(total)).quantize(Decimal("0.0001")) if total else Decimal(0)

    return [
        SummaryItem("Requests", total, "count"),
        SummaryItem("Requests with any auto-applied payment (matched)", touched, "count"),
        SummaryItem("Matched share of requests", ratio(touched), "ratio"),
        SummaryItem("Requests auto-cleared", cleared, "count"),
        SummaryItem("Auto-cleared share of requests", ratio(cleared), "ratio"),
        SummaryItem("Match rows applied automatically", auto, "count"),
        SummaryItem("Match rows proposed for review", len(result.matches) - auto, "count"),
        SummaryItem("Exceptions", len(result.exceptions), "count"),
        SummaryItem("Journal lines", len(result.journals), "count"),
    ]


#: days-to-pay buckets in a fixed order: whole days from request creation to the last payment
PAY_BUCKETS = ["before request", "same day", "1 day", "2-7 days", "8-30 days", "over 30 days"]


def days_to_pay_buckets(result: ReconResult) -> list[tuple[str, int]]:
    """Why a bucket chart: quotes lock for minutes, so nearly every payment lands on day 0, and
    a batch can pay a request created after the transfer (negative days). Plotting raw day
    labels as bars gave a -13..17 axis with everything on 0; buckets read correctly."""
    days = result.requests_status["days_to_pay"].dropna().astype("int64")
    edges = [
        (days < 0),
        (days == 0),
        (days == 1),
        (days >= 2) & (days <= 7),
        (days >= 8) & (days <= 30),
        (days > 30),
    ]
    return [(label, int(mask.sum())) for label, mask in zip(PAY_BUCKETS, edges, strict=True)]
