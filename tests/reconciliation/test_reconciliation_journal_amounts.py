"""The journal lines' amounts, formatted once per request amount and taken per line
(`journal_amounts.line_amounts_text`), read as a person writes minor units: every line's
debit and credit at its request's currency exponent, zero included ('0', '0.00', '0.000')."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from paybridge_reconciliation.journal_amounts import line_amounts_text


def _written(minor: int, exponent: int) -> str:
    """Minor units as decimal text, the plain way."""
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    text = f"{digits[:-exponent]}.{digits[-exponent:]}" if exponent else digits
    return f"-{text}" if minor < 0 else text


amount = st.one_of(
    st.integers(-(10**12), 10**12),
    st.integers(-(2**70), 2**70),  # beyond int64: Python-int columns
    st.just(0),
)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_requests=st.integers(1, 12), big=st.booleans())
def test_each_line_shows_its_requests_amounts_at_its_exponent(data, n_requests, big) -> None:
    exponents = np.array(
        data.draw(st.lists(st.sampled_from([0, 2, 3]), min_size=n_requests, max_size=n_requests))
    )
    values = st.lists(amount if big else st.integers(-(10**12), 10**12), min_size=n_requests)
    dtype = object if big else np.int64
    arrays = [
        np.array(data.draw(values.map(lambda v: v[:n_requests])), dtype=dtype) for _ in range(3)
    ]
    zero = np.zeros(n_requests, dtype=dtype)
    # specs as the journals have them: one array on several specs and sides, zero on most
    debit = [arrays[0], zero, arrays[1], zero, arrays[2]]
    credit = [zero, arrays[0], zero, arrays[2], arrays[0]]
    n_specs = len(debit)
    kept = data.draw(
        st.lists(st.booleans(), min_size=n_requests * n_specs, max_size=n_requests * n_specs)
    )
    cell = np.flatnonzero(kept)
    request, spec = cell // n_specs, cell % n_specs

    debit_text, credit_text = line_amounts_text([debit, credit], zero, request, spec, exponents)

    for side, text in ((debit, debit_text), (credit, credit_text)):
        expected = [
            _written(int(side[s][r]), int(exponents[r])) for r, s in zip(request, spec, strict=True)
        ]
        assert text.tolist() == expected
        assert str(text.dtype) == "str"


def test_no_lines_give_empty_columns() -> None:
    zero = np.zeros(2, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    debit, credit = line_amounts_text([[zero], [zero]], zero, none, none, np.array([2, 0]))
    assert debit.tolist() == [] and credit.tolist() == []
