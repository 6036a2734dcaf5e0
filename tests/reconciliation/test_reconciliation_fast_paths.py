"""The engine's fast paths give exactly what the plain Python-int versions give.

Each vectorised shortcut (int64 where it fits, two-limb subset sums, Arrow text formatting,
binary-search rate lookup, vectorised batch search) is checked against a slow, obvious
computation on the same inputs, including values beyond int64.
"""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pandas as pd
import paybridge_reconciliation.rules_batch as rules_batch
import pytest
from paybridge_reconciliation.amounts import code_argsort, exact_ints
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.fixed_point import int_text_series, minor_to_text
from paybridge_reconciliation.generate import generate
from paybridge_reconciliation.prepare import tolerance_units
from paybridge_reconciliation.rates import lookup_rates
from paybridge_reconciliation.request_status import STATUS_NAMES, status_codes
from paybridge_reconciliation.result import reconcile
from paybridge_reconciliation.tolerance import classify_amount, tolerance_units_vec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _random_ints(rng: random.Random, n: int) -> list[int]:
    special = [0, 1, -1, 99, -100, INT64_MAX, INT64_MIN, INT64_MAX + 1, 2**64, -(2**80), 10**18]
    return [
        rng.choice(special)
        if rng.random() < 0.2
        else rng.randint(-(10 ** rng.randint(1, 30)), 10 ** rng.randint(1, 30))
        for _ in range(n)
    ]


def _fixed_text(value: int, exponent: int) -> str:
    sign = "-" if value < 0 else ""
    digits = str(abs(value))
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_minor_to_text_is_exact_for_any_integer(seed: int) -> None:
    rng = random.Random(seed)
    values = _random_ints(rng, 3000)
    exponents = [rng.choice([0, 2, 3, 4]) for _ in values]
    text = minor_to_text(np.array(values, dtype=object), np.array(exponents)).tolist()
    assert text == [_fixed_text(v, e) for v, e in zip(values, exponents, strict=True)]
    small = [v for v in values if INT64_MIN <= v <= INT64_MAX]
    as_int64 = minor_to_text(np.array(small, dtype=np.int64), np.full(len(small), 2)).tolist()
    assert as_int64 == [_fixed_text(v, 2) for v in small]


def test_int_text_is_str_of_each_integer() -> None:
    values = _random_ints(random.Random(7), 3000)
    assert int_text_series(np.array(values, dtype=object)).tolist() == [str(v) for v in values]


def test_exact_ints_uses_int64_only_when_every_sum_fits() -> None:
    assert exact_ints(np.array([1, 2, 3], dtype=object)).dtype == np.int64
    big = exact_ints(np.array([1, 2**62, 2**62], dtype=object))
    assert big.dtype == object and big.tolist() == [1, 2**62, 2**62]
    assert exact_ints(np.array([2**70, 1], dtype=object)).dtype == object
    # -2**63 fits int64 but its magnitude does not: sums over it could overflow
    assert exact_ints(np.array([INT64_MIN], dtype=object)).dtype == object
    assert exact_ints(np.array([INT64_MIN + 1, 0], dtype=np.int64)).dtype == object


def test_tolerance_units_agrees_with_python_int_version() -> None:
    rng = random.Random(11)
    n = 4000
    due = [rng.choice([rng.randint(1, 10**9), rng.randint(1, 10**22), 2**63 + 5]) for _ in range(n)]
    invoice = [rng.choice([0, rng.randint(1, 10**7)]) for _ in range(n)]
    absolute = [rng.choice([0, 100, 10**20]) for _ in range(n)]
    ppm = np.array([rng.choice([0, 5000, 10**6]) for _ in range(n)], dtype=np.int64)
    args = [np.array(x, dtype=object) for x in (due, invoice, absolute)]
    fast = tolerance_units(*args, ppm)
    slow = tolerance_units_vec(*args, ppm)
    assert [int(v) for v in fast] == [int(v) for v in slow]


@pytest.mark.parametrize("largest_due", [10**12, 10**20])  # int64 path, Python-int path
def test_status_codes_agree_with_classify_amount(largest_due: int) -> None:
    rng = random.Random(5)
    n = 3000
    due = np.array([rng.randint(1, largest_due) for _ in range(n)], dtype=object)
    applied = np.array(
        [rng.choice([0, int(d), int(d) - 3, int(d) + 1, int(d) // 2]) for d in due], dtype=object
    )
    tol = np.array([rng.choice([0, 5]) for _ in range(n)], dtype=object)
    expired = np.array([rng.random() < 0.5 for _ in range(n)])
    over = np.array([rng.random() < 0.2 for _ in range(n)])
    codes = status_codes(due - applied, applied, tol, expired, over)
    for i in range(n):
        expected = classify_amount(due[i], applied[i], tol[i]).value
        if expected == "unpaid":
            expected = "expired" if expired[i] else "open"
        if over[i] and expected != "partial":
            expected = "overpaid"
        assert STATUS_NAMES[codes[i]] == expected


def test_two_limb_subset_sums_match_python_ints() -> None:
    rng = np.random.default_rng(3)
    masks = rules_batch.subset_masks(6, 1, 4)
    for bits in (40, 62, 64, 90, 110):
        values = np.array(
            [[int(x) << max(bits - 40, 0) for x in row] for row in rng.integers(0, 2**40, (50, 6))],
            dtype=object,
        )
        # targets: half are real subset sums, half are off by one
        picks = masks[rng.integers(0, len(masks), 50)]
        targets = np.array(
            [
                int((row * pick).sum()) + int(k % 2)
                for k, (row, pick) in enumerate(zip(values, picks, strict=True))
            ],
            dtype=object,
        )
        hits = rules_batch._subset_hits(values, targets, masks, 4)
        expected = (values @ masks.T.astype(object)) == targets[:, None]
        assert (hits == expected.astype(bool)).all()


@pytest.mark.parametrize("seed", [3, 8])
def test_vectorised_batch_search_agrees_with_per_target_search(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = generate(seed, 3000, "hard")
    config = ReconConfig(subset_max_candidates=8, subset_max_size=3)
    fast = reconcile(scenario.requests, scenario.receipts, scenario.rates, config)
    assert (fast.matches["rule"] == "batch").sum() > 0
    monkeypatch.setattr(rules_batch, "BLOCK_MAX", -1)  # every target takes the loop
    slow = reconcile(scenario.requests, scenario.receipts, scenario.rates, config)
    pd.testing.assert_frame_equal(fast.matches, slow.matches)
    pd.testing.assert_frame_equal(fast.exceptions, slow.exceptions)
    pd.testing.assert_frame_equal(fast.journals, slow.journals)


def test_rate_lookup_is_latest_rate_at_or_before_each_time() -> None:
    rng = random.Random(2)
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    rates = pd.DataFrame(
        [
            {
                "chain_id": chain,
                "asset": asset,
                "currency": currency,
                "valid_from": start + pd.Timedelta(minutes=rng.randint(0, 10_000)),
                "rate_scaled": rng.randint(1, 10**30),
                "rate_text": str(rng.randint(1, 9999)),
                "decimals": rng.choice([6, 18]),
                "source": f"feed-{k}",
            }
            for k, (chain, asset, currency) in enumerate(
                rng.choice([(1, "a", "USD"), (1, "b", "USD"), (137, "a", "EUR")])
                for _ in range(300)
            )
        ]
    ).drop_duplicates(["chain_id", "asset", "currency", "valid_from"])
    keys = pd.DataFrame(
        {
            "chain_id": [rng.choice([1, 137, 8453]) for _ in range(2000)],
            "asset": [rng.choice(["a", "b"]) for _ in range(2000)],
            "currency": [rng.choice(["USD", "EUR"]) for _ in range(2000)],
            "at": [start + pd.Timedelta(minutes=rng.randint(-100, 10_100)) for _ in range(2000)],
        }
    )
    found = lookup_rates(keys, rates, "currency", "at")
    # keys coded by the caller (Categoricals, as fair_values passes them) find the same rates
    coded = keys.assign(
        asset=pd.Categorical(keys["asset"]), currency=pd.Categorical(keys["currency"])
    )
    pd.testing.assert_frame_equal(lookup_rates(coded, rates, "currency", "at"), found)
    only_a = keys["asset"] == "a"  # rates of asset "b" then have no key value to share
    pd.testing.assert_frame_equal(
        lookup_rates(
            coded[only_a]
            .reset_index(drop=True)
            .assign(asset=lambda k: k["asset"].cat.remove_unused_categories()),
            rates,
            "currency",
            "at",
        ),
        found[only_a].reset_index(drop=True),
    )
    records = rates.to_dict("records")
    for i, key in enumerate(keys.to_dict("records")):
        usable = [
            r
            for r in records
            if (r["chain_id"], r["asset"], r["currency"])
            == (key["chain_id"], key["asset"], key["currency"])
            and r["valid_from"] <= key["at"]
        ]
        if not usable:
            assert found["source"].iloc[i] == "" and found["rate_scaled"].iloc[i] is None
            continue
        best = max(usable, key=lambda r: r["valid_from"])
        assert found["source"].iloc[i] == best["source"]
        assert found["rate_scaled"].iloc[i] == best["rate_scaled"]
        assert found["decimals"].iloc[i] == best["decimals"]
        assert found["rate_text"].iloc[i] == best["rate_text"]
        assert Decimal(found["rate_text"].iloc[i]) == Decimal(best["rate_text"])


@pytest.mark.parametrize("size", [1, 7, 5000])
def test_code_argsort_is_a_stable_sort_by_code_then_tiebreak(size: int) -> None:
    rng = np.random.default_rng(size)
    codes = rng.integers(0, size, 4000)
    tiebreak = rng.integers(0, 3, 4000)
    assert (code_argsort(codes, size) == np.argsort(codes, kind="stable")).all()
    assert (code_argsort(codes, size, tiebreak) == np.lexsort([tiebreak, codes])).all()
    assert len(code_argsort(np.zeros(0, dtype=np.int64), 0)) == 0
