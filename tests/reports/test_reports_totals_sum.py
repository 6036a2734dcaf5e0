"""The reports' grand totals are exact sums of the journals' decimal text (report_totals)."""

from __future__ import annotations

import random
from decimal import MAX_PREC, Decimal, localcontext

import numpy as np
import pandas as pd
import pytest
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.generate import generate
from paybridge_reconciliation.report_totals import decimal_sum, grand_totals
from paybridge_reconciliation.result import reconcile


def _by_decimal(cells: list[str], rows: np.ndarray) -> Decimal:
    """The plain reading of the rule: every kept cell a Decimal, added up exactly."""
    with localcontext() as exact:
        exact.prec = MAX_PREC
        kept = [c for c, keep in zip(cells, rows, strict=True) if keep and c not in ("", "nan")]
        return sum((Decimal(c) for c in kept), Decimal(0))


def _random_cell(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.05:
        return rng.choice(["", "nan"])
    sign = "-" if rng.random() < 0.3 else ""
    whole = str(rng.randrange(10 ** rng.randrange(1, 13)))
    if kind < 0.15:
        return sign + whole  # no decimal point
    return f"{sign}{whole}.{rng.randrange(10**3):0{rng.choice([2, 3])}d}"  # mixed scales


@pytest.mark.parametrize("seed", range(6))
def test_decimal_sum_equals_adding_decimals_over_random_columns_and_masks(seed: int) -> None:
    rng = random.Random(seed)
    cells = [_random_cell(rng) for _ in range(2_000)]
    rows = np.array([rng.random() < 0.6 for _ in cells])
    for values in (pd.Series(cells, dtype="str"), pd.Series(cells, dtype=object)):
        for mask in (None, rows):
            expected = _by_decimal(cells, np.ones(len(cells), bool) if mask is None else rows)
            total = decimal_sum(values, mask)
            assert total == expected
            assert str(total) == str(expected)  # same exponent too: shown the same


@pytest.mark.parametrize(
    "cells",
    [
        ["1.5e3", "2.50"],  # exponent notation: Decimal reads it, Arrow differently
        [" 1.25", "2"],  # surrounding spaces
        ["9" * 33 + ".99"] * 9,  # a total just inside decimal128's 38 digits
        ["9" * 30 + ".99"] * 20_000,  # totals that could pass it: added by Decimal
        ["9" * 36 + ".00"] * 200,  # would wrap around in decimal128
        ["9" * 25, "9" * 25, "0.0000000000001"],  # short cells, but 38 digits at one scale
        [],
        ["", "nan"],
        ["-0.00", "0.00"],
    ],
)
def test_decimal_sum_of_cells_arrow_does_not_read_like_decimal(cells: list[str]) -> None:
    expected = _by_decimal(cells, np.ones(len(cells), bool))
    total = decimal_sum(pd.Series(cells, dtype="str"))
    assert total == expected and str(total) == str(expected)


def test_decimal_sum_names_a_cell_that_is_no_number() -> None:
    with pytest.raises(ArithmeticError):
        decimal_sum(pd.Series(["1.00", "one"], dtype="str"))


def test_grand_totals_equal_the_journals_added_up_line_by_line() -> None:
    """Per currency: A/R credits less debits less the customer credit (payment line 4), digital
    assets' debits less credits, gains less losses, summed here from the journal records."""
    scenario = generate(5, 3_000, "hard")
    result = reconcile(scenario.requests, scenario.receipts, scenario.rates)
    config = ReconConfig()
    accounts = config.accounts
    totals = grand_totals(result, config).set_index("currency")
    journals = result.journals.astype(str).to_dict("records")
    assert len(totals) >= 2
    for currency, row in totals.iterrows():
        mine = [j for j in journals if j["currency"] == currency]

        def side(names: set[str], column: str, lines: list[dict] = mine) -> Decimal:
            return sum((Decimal(j[column]) for j in lines if j["account"] in names), Decimal(0))

        credit = sum(
            (
                Decimal(j["credit"])
                for j in mine
                if j["journal_id"].endswith(":payment") and j["line"] == "4"
            ),
            Decimal(0),
        )
        receivable = {accounts.accounts_receivable}
        assert row["customer_credit"] == credit
        assert row["applied"] == side(receivable, "credit") - side(receivable, "debit") - credit
        digital = set(accounts.digital_asset.values())
        assert row["received_fair_value"] == side(digital, "debit") - side(digital, "credit")
        pnl = {accounts.settlement_gain, accounts.settlement_loss}
        assert row["gain_loss"] == side(pnl, "credit") - side(pnl, "debit")
        status = result.requests_status
        invoiced = status.loc[status["invoice_currency"] == currency, "invoice_amount"]
        assert row["invoiced"] == sum((Decimal(v) for v in invoiced), Decimal(0))
        assert row["requests"] == len(invoiced)
