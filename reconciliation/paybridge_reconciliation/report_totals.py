"""The figures the reports lead with, as numbers (never strings like ``'780 (78.0%)'``).

Grand totals per invoice currency come from the engine's journals, so they agree with the
ledger by construction: received at fair value = debits to the digital-asset accounts,
applied = credits to accounts receivable, written off = debits to the write-off account,
gain/loss = credits less debits on the gain and loss accounts, open = invoiced - applied.
All sums are exact ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from paybridge_reconciliation.config import ReconConfig
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


def _sum(values: pd.Series) -> Decimal:
    return sum((Decimal(str(v)) for v in values if str(v) not in ("", "nan")), Decimal(0))


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
    digital = set(accounts.digital_asset.values())
    rows = []
    for currency in sorted(set(status["invoice_currency"]) | set(journals["currency"])):
        mine = status[status["invoice_currency"] == currency]
        lines = journals[journals["currency"] == currency]

        def on(names: set[str], side: str, lines: pd.DataFrame = lines) -> Decimal:
            return _sum(lines.loc[lines["account"].isin(names), side])

        invoiced = _sum(mine["invoice_amount"])
        # an overpayment's unapplied rest is credited to A/R too (the customer's credit there):
        # the payment journal's line 4 (reconciliation/paybridge_reconciliation/journals.py)
        unapplied = _is_payment(lines["journal_id"]) & _is_line(lines["line"], 4)
        credit = _sum(lines.loc[unapplied, "credit"])
        applied = (
            on({accounts.accounts_receivable}, "credit")
            - on({accounts.accounts_receivable}, "debit")
            - credit
        )
        pnl = {accounts.settlement_gain, accounts.settlement_loss}
        write_offs = {accounts.write_off} | {
            g.write_off_account for g in config.tolerance_groups.values() if g.write_off_account
        }
        rows.append(
            {
                "currency": currency,
                "requests": len(mine),
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
