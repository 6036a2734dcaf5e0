"""Published text columns that repeat a handful of values (accounts, memos, rules, decisions,
reasons): built as pandas Categoricals from integer codes, never one string per row.

Why: 1M requests make about 4M journal lines; as plain text every line would carry its own copy
of the same account name and memo. A Categorical keeps one copy of each value; Arrow turns it
into a dictionary array and its CSV writer writes the values, so the files are byte-for-byte
what a text column gives. Categories are kept in text order so that sorting a column sorts it
as text, and they compare, ``isin`` and ``.str`` like text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def category(codes: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """``labels[codes[i]]`` per row, as a Categorical (labels may repeat)."""
    unique = sorted(set(labels))
    at = {label: i for i, label in enumerate(unique)}
    # codes in the smallest integer type that holds them (millions of journal lines: no int64
    # copies of codes that pandas would narrow again anyway)
    remap = np.array([at[label] for label in labels], dtype=np.min_scalar_type(-len(unique)))
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":  # booleans would index as a mask
        codes = codes.astype(np.int64)
    codes = remap[codes] if len(remap) else np.zeros(0, np.int8)
    return pd.Series(pd.Categorical.from_codes(codes, pd.Index(unique, dtype="str")))


def coded(values: pd.Series, idx: np.ndarray) -> pd.Series:
    """``values`` at positions ``idx`` as a Categorical (categories in text order): a column
    of few distinct values (assets, currencies) is factorized once and its codes gathered,
    instead of gathering and hashing its text again."""
    return coded_from(*text_codes(values), idx)


def coded_from(codes: np.ndarray, categories: pd.Index, idx: np.ndarray) -> pd.Series:
    """`coded` from a column's `text_codes` already made: the codes at ``idx``."""
    picked = codes[np.asarray(idx, dtype=np.int64)]
    return pd.Series(pd.Categorical.from_codes(picked, categories))


def text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a column and its distinct values in text order. A Categorical whose
    categories are in text order (`as_categories`) has them already: no hashing again."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if categories.is_monotonic_increasing and not values.hasnans:
            return values.cat.codes.to_numpy(), categories
    codes, uniques = pd.factorize(values, sort=True)
    return codes, pd.Index(uniques, dtype="str")


def as_categories(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with its text columns ``names`` (those it has) as Categoricals in text order.

    Why: publishing gathers and groups the requests' assets, currencies and tolerance groups
    about ten times; hashing a million texts costs about 15 ms each time, once is enough."""
    kept = [n for n in names if n in frame.columns]
    if not kept:
        return frame
    coded_columns = {}
    for name in kept:
        codes, categories = text_codes(frame[name])
        coded_columns[name] = pd.Categorical.from_codes(codes, categories)
    return frame.assign(**coded_columns)


def mapped(values: pd.Series, mapping: Mapping[str, str]) -> pd.Series:
    """``values.map(mapping)`` for a column of few distinct values, as a Categorical (each
    distinct value looked up once)."""
    codes, uniques = pd.factorize(values)
    if (codes < 0).any() or any(u not in mapping for u in uniques.tolist()):
        return values.map(mapping)  # a value without a label stays missing, as map leaves it
    return category(codes, [mapping[u] for u in uniques.tolist()])
