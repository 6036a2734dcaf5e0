"""The byte-level shortcuts of reading and publishing change nothing a plain pass would not.

Reading skips a trim, a lower-casing and the spreadsheet-rule recovery when the raw bytes show
they would change nothing; writing skips the spreadsheet rule the same way; big amounts are
parsed and formatted as two int64 halves; repeated text is published as Categoricals. Each is
checked against the plain computation on awkward inputs (control bytes, Unicode spaces, values
beyond int64 and beyond 36 digits, leading zeros).
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from paybridge_reconciliation.arrow_bytes import all_decimals, all_digits, strictly_ascending
from paybridge_reconciliation.files import write_csv
from paybridge_reconciliation.fixed_point import decimal_units, int_text
from paybridge_reconciliation.inputs import (
    DECIMAL_RE,
    SMALL_UINT_RE,
    _may_need_lower,
    _may_need_trim,
)
from paybridge_reconciliation.labels import category, mapped
from paybridge_reconciliation.safe_text import (
    NEEDS_CHANGE_RE,
    _may_need_change,
    recover_array,
    safe_array,
)

ALPHABET = ["a", "Z", "0", " ", "\t", "\n", "\r", "\x00", "\x0b", "\x1c", "\x7f", "\\", "'"]
ALPHABET += ["=", "+", "-", "@", "\u00a0", "\u2003", "é", "É", "x"]


def _columns(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        cells = [
            "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4)))
            for _ in range(rng.randint(0, 6))
        ]
        kind = rng.choice([pa.string(), pa.large_string()])
        arr = pa.array(cells, kind).slice(rng.randint(0, len(cells)))
        yield cells, pa.chunked_array([arr, arr], kind)


def test_byte_checks_agree_with_the_passes_they_skip():
    for cells, column in _columns(seed=15, count=3000):
        needs = bool(pc.any(pc.match_substring_regex(column, NEEDS_CHANGE_RE)).as_py())
        assert _may_need_change(column) == needs, cells
        assert _may_need_change(pc.dictionary_encode(column.combine_chunks())) == needs, cells
        if not _may_need_trim(column):
            assert pc.utf8_trim_whitespace(column).equals(column), cells
        if not _may_need_lower(column):
            assert pc.utf8_lower(column).equals(column), cells
        # the rule and its inverse, through the shortcuts, give the text back
        assert recover_array(safe_array(column)).to_pylist() == column.to_pylist(), cells


def _number_columns(seed: int, count: int):
    """Columns of number-like text: digits, points, and now and then a byte that is not."""
    rng = random.Random(seed)
    for _ in range(count):
        odd = ["a", " ", "-", "+", "e", "\u0663", "\x00", ",", "/", ":"]
        cells = [
            "".join(
                rng.choice(["0", "7", "9", "."] + (odd if rng.random() < 0.1 else []))
                for _ in range(rng.randint(0, 20))
            )
            for _ in range(rng.randint(1, 5))
        ]
        kind = rng.choice([pa.string(), pa.large_string()])
        arr = pa.array(cells, kind).slice(rng.randint(0, len(cells) - 1))
        yield cells, pa.chunked_array([arr, pa.array(cells[:1], kind)], kind)


def test_digit_and_decimal_byte_checks_agree_with_the_regexes_they_skip():
    """All-cells-match by bytes (reading's shortcut) equals Arrow's regex on every column, and
    a column the regex rejects is never passed; sorted, unique ids are recognised as such."""
    seen = {True: 0, False: 0}
    for cells, column in _number_columns(seed=21, count=4000):
        for check, pattern in (
            (all_decimals, DECIMAL_RE),
            (lambda c: all_digits(c, 18), SMALL_UINT_RE),
        ):
            expected = bool(pc.all(pc.match_substring_regex(column, pattern)).as_py())
            assert check(column) == expected, (pattern, cells)
            seen[expected] += 1
        assert not all_digits(pa.chunked_array([pa.array(["1" * 19])]), 18)
    assert min(seen.values()) > 200  # both answers were exercised
    assert strictly_ascending(pa.array(["R1", "R2", "R3"]))
    assert not strictly_ascending(pa.array(["R1", "R1", "R3"]))
    assert not strictly_ascending(pa.array(["R2", "R1"]))
    assert not strictly_ascending(pa.array(["R1", None]))


def test_big_amounts_parse_and_format_exactly():
    rng = random.Random(7)
    values = [rng.randrange(10 ** rng.randint(1, 78)) for _ in range(3000)]
    values += [0, 2**63 - 1, 2**63, 10**18, 10**36 - 1, 10**36, 2**256 - 1]
    digits = [str(v).rjust(rng.choice([0, len(str(v)) + 2]), "0") for v in values]  # lead 0s
    parsed = decimal_units(pa.array(digits), 0)
    assert parsed.tolist() == values
    signed = np.array([v * rng.choice([1, -1]) for v in values] + [-(2**63)], dtype=object)
    assert int_text(signed).to_pylist() == [str(v) for v in signed.tolist()]


def test_categorical_columns_write_the_same_bytes_as_text(tmp_path):
    codes = np.array([2, 0, 1, 1, 2, 0])
    labels = ["settlement gain", "=cmd", "settlement gain"]  # repeats; one needs the rule
    as_category = category(codes, labels)
    as_text = pd.Series([labels[c] for c in codes], dtype="str")
    assert as_category.tolist() == as_text.tolist()
    assert list(as_category.sort_values()) == list(as_text.sort_values())
    reasons = pd.Series(["B", "A", "B"], dtype="str")
    assert mapped(reasons, {"A": "a", "B": "b"}).tolist() == ["b", "a", "b"]
    assert mapped(reasons, {"A": "a"}).isna().tolist() == [True, False, True]
    write_csv(pd.DataFrame({"x": as_category, "n": np.arange(6)}), tmp_path / "cat.csv")
    write_csv(pd.DataFrame({"x": as_text, "n": np.arange(6)}), tmp_path / "text.csv")
    assert (tmp_path / "cat.csv").read_bytes() == (tmp_path / "text.csv").read_bytes()
    assert b"'=cmd" in (tmp_path / "cat.csv").read_bytes()


def test_iso_text_is_arrows_text_of_the_same_seconds():
    """Times written from date and time-of-day tables equal Arrow's cast text, for spans short
    and long, fractions of a second, NaT, and times before 1970 (which take Arrow's path)."""
    from paybridge_reconciliation.iso_text import _arrow_iso_text, iso_text

    rng = np.random.default_rng(5)
    base = np.datetime64("2026-01-01T00:00:00", "us")
    cases = [
        base + rng.integers(0, 400 * 86_400 * 10**6, 50_000).astype("timedelta64[us]"),
        np.datetime64("1970-01-01", "us")
        + rng.integers(0, 253_402_300_799 * 10**6, 5_000).astype("timedelta64[us]"),
        np.array(
            ["1970-01-01T00:00:00.999999", "9999-12-31T23:59:59.9", "NaT", "2000-02-29T23:59:59"],
            dtype="datetime64[us]",
        ),
        np.array(["1969-12-31T23:59:59.5", "2026-01-01T00:00:00"], dtype="datetime64[us]"),
        np.array(["NaT", "NaT"], dtype="datetime64[us]"),
        np.array([], dtype="datetime64[us]"),
    ]
    cases[0][rng.random(50_000) < 0.3] = np.datetime64("NaT")
    for values in cases:
        missing = np.isnat(values)
        assert iso_text(values).to_pylist() == _arrow_iso_text(values, missing).to_pylist()
    assert iso_text(cases[2]).to_pylist() == [
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "",
        "2000-02-29T23:59:59Z",
    ]


def test_first_last_count_equal_a_pandas_groupby():
    from paybridge_reconciliation.published import _first_last_count

    rng = np.random.default_rng(8)
    group = rng.integers(0, 500, 3_000)
    times = np.datetime64("2026-01-01", "us") + rng.integers(0, 10**12, 3_000).astype(
        "timedelta64[us]"
    )
    times[rng.random(3_000) < 0.05] = np.datetime64("NaT")
    times[group == 7] = np.datetime64("NaT")  # a group with no known time
    first, last, count = _first_last_count(group, times, 600)
    agg = pd.DataFrame({"g": group, "t": times}).groupby("g")["t"].agg(["min", "max", "size"])
    full = agg.reindex(range(600))
    assert np.array_equal(first, full["min"].to_numpy("datetime64[us]"), equal_nan=True)
    assert np.array_equal(last, full["max"].to_numpy("datetime64[us]"), equal_nan=True)
    assert count.tolist() == full["size"].fillna(0).astype(int).tolist()
    assert np.isnat(first[7]) and count[7] == (group == 7).sum() > 0


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int64, bool])
def test_category_takes_codes_of_any_integer_type_and_booleans_as_codes(dtype) -> None:
    labels = ["paid", "open", "paid"] if dtype is not bool else ["no", "yes"]
    codes = np.array([0, 1, 1, 0, 2] if dtype is not bool else [1, 0, 1], dtype=dtype)
    expected = [labels[int(c)] for c in codes]
    column = category(codes, labels)
    assert column.tolist() == expected
    assert list(column.cat.categories) == sorted(set(labels))  # text order, each value once


@pytest.mark.parametrize("exp", [0, 2, 3, 18, 38, 40])
def test_decimal_text_parses_exactly_at_every_width(exp):
    """Up to 50 whole digits, leading zeros, up to 12 decimals: Arrow's decimal128 cast wraps
    around past 38 digits, so those cells must be parsed apart (and still exactly)."""
    rng = random.Random(exp)
    cells = []
    for _ in range(5000):
        width = rng.randint(1, 50)
        cell = str(rng.randrange(10**width)).rjust(rng.choice([0, width + 2]), "0")
        decimals = rng.randint(0, min(exp, 12))
        if decimals:
            cell += "." + str(rng.randrange(10**decimals)).rjust(decimals, "0")
        cells.append(cell)
    expected = [int(c.partition(".")[0] + c.partition(".")[2].ljust(exp, "0")) for c in cells]
    parsed = decimal_units(pa.chunked_array([pa.array(cells[:7]), pa.array(cells[7:])]), exp)
    assert parsed.tolist() == expected
    assert max(expected) >= 10**38  # the cells Arrow cannot cast were among them
