"""Rule 1's allocation gives, row by row, what a plain loop over Python ints gives, whichever
of its requests take the int64 path; and the amount column put in chain order keeps its values
and its int64 split.

The requests mix every kind: amounts that fit int64 easily, sums just under and just over the
int64 path's bound (2**60), dues and amounts beyond int64, late receipts re-quoted (equivalent
different from the amount, so a partly needed one applies a rounded-up share), and zeros."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybridge_reconciliation.amounts import SplitInts, as_object, split_ints, taken
from paybridge_reconciliation.hex_text import same_rows
from paybridge_reconciliation.rules_own import allocate_in_block_order

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I64 = 2**63

values = st.one_of(
    st.integers(0, 10**6),
    st.integers(0, 2**40),
    st.integers(2**58, 2**60),  # a few of these pass the int64 bound together
    st.integers(I64 - 10, I64 + 10),
    st.integers(0, 2**80),
    st.sampled_from([0, 1, I64 - 1, I64, 2**61, 2**62]),
)


@st.composite
def requests(draw):
    """One request: its due and its receipts in block order as (equivalent, amount)."""
    due = draw(values)
    receipts = []
    for _ in range(draw(st.integers(1, 5))):
        amount = draw(values)
        late = draw(st.booleans())
        eq = draw(values) if late else amount  # a late receipt's quote-equivalent differs
        receipts.append((eq, amount))
    return due, receipts


def _loop(due: int, receipts: list[tuple[int, int]]) -> list[tuple[bool, int, int, int]]:
    """The rule as a person would compute it, one receipt at a time."""
    out, remaining = [], due
    for eq, amount in receipts:
        settled = remaining <= 0
        applied_eq = min(eq, remaining)
        if eq - applied_eq <= 0:
            applied = amount
        elif not settled and eq != amount:
            applied = -((-amount * applied_eq) // eq)  # rounded up
        else:
            applied = applied_eq
        out.append((settled, applied_eq, applied, amount - applied))
        remaining -= eq
    return out


@SETTINGS
@given(st.lists(requests(), min_size=1, max_size=12), st.randoms())
def test_allocation_equals_a_python_int_loop(reqs, random) -> None:
    dues = np.array([due for due, _ in reqs], dtype=object)
    owner_list = [i for i, (_, rs) in enumerate(reqs) for _ in rs]
    pairs = [pair for _, rs in reqs for pair in rs]
    # receipts in some chain order; rows lists them grouped by request, in block order
    positions = list(range(len(pairs)))
    random.shuffle(positions)
    n = len(pairs)
    eq, amount, owner = np.empty(n, object), np.empty(n, object), np.empty(n, np.int64)
    for row, at in enumerate(positions):
        eq[at], amount[at] = pairs[row]
        owner[at] = owner_list[row]
    rows = np.array(positions, dtype=np.int64)

    got = allocate_in_block_order(rows, owner, split_ints(eq), split_ints(amount), split_ints(dues))

    expected = [row for due, rs in reqs for row in _loop(due, rs)]
    for i, (settled, applied_eq, applied, excess) in enumerate(expected):
        assert bool(got.settled_before[i]) == settled
        if settled:
            continue  # the caller drops rows settled before: their values are not used
        assert int(got.applied_eq[i]) == applied_eq
        assert int(got.applied_actual[i]) == applied
        assert int(got.excess_actual[i]) == excess


def test_small_requests_run_in_int64_and_big_ones_in_python_ints() -> None:
    """Both paths in one call: the result holds int64 rows and rows beyond int64 exactly."""
    eq = np.array([5, 7, I64 + 5, 3], dtype=object)
    amount = eq.copy()
    dues = np.array([10, I64 + 1], dtype=object)
    owner = np.array([0, 0, 1, 1])
    got = allocate_in_block_order(
        np.arange(4), owner, split_ints(eq), split_ints(amount), split_ints(dues)
    )
    assert got.settled_before.tolist() == [False, False, False, True]
    assert got.applied_eq.tolist()[:3] == [5, 5, I64 + 1]  # request 1 is settled by then
    assert got.excess_actual.tolist()[:3] == [0, 2, 4]


@pytest.mark.parametrize("as_int64", [True, False])
def test_taken_keeps_values_and_their_int64_split(as_int64: bool) -> None:
    raw = [3, -(2**63), 2**63 - 1, -5, 0] + ([] if as_int64 else [2**63, 2**70])
    values = np.array(raw, dtype=np.int64 if as_int64 else object)
    order = np.array(list(range(len(values)))[::-1])
    got = taken(values, order)
    assert isinstance(got, SplitInts)
    assert got.values.tolist() == [values[i] for i in order]
    assert got.values.dtype == values.dtype
    for value, small, fits in zip(got.values.tolist(), got.int64, got.fits, strict=True):
        assert bool(fits) == (-(2**63) < value < 2**63)
        if fits:
            assert int(small) == value


def test_same_rows_compares_the_rows_at_given_positions() -> None:
    left = np.frombuffer(b"0xab0xcd0xab", dtype=np.uint8).reshape(3, 4)
    right = np.frombuffer(b"0xcd0xab", dtype=np.uint8).reshape(2, 4)
    got = same_rows(left, np.array([0, 1, 2, 0]), right, np.array([1, 0, 1, 0]))
    assert got.tolist() == [True, True, True, False]
    assert same_rows(left, np.zeros(0, np.int64), right, np.zeros(0, np.int64)).tolist() == []
    assert as_object(np.zeros(0, np.int64)).dtype == object
