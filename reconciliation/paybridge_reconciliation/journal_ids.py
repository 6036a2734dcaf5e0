"""The journal lines' id columns (journal, request, invoice and customer ids) as Categoricals.

A request's two journals have up to eight lines, each repeating the request's ids: about 4M
lines for 1M requests. As Categoricals each id is stored once (the journal ids once per request
and kind), and the CSV writer writes the values, so the file is what text columns give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.arrow_bytes import strictly_ascending
from paybridge_reconciliation.columns import take


def per_request(values: pd.Series, rows: np.ndarray) -> pd.Series:
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
    return pd.Index(pd.Series(_contiguous_text(values), dtype="str"))


def _contiguous_text(
    values: pd.Series | pd.api.extensions.ExtensionArray | pa.Array,
) -> pa.LargeStringArray:
    """``values`` as one Arrow text array (large columns come in chunks)."""
    text = pa.array(values, pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return text


def journal_ids(request_id: pd.Series, rows: np.ndarray, kind: np.ndarray) -> pd.Series:
    """'<request_id>:payment' / '<request_id>:deposit' per line, as a Categorical of the two
    ids of every request (built once per request, not once per line)."""
    ids = _contiguous_text(request_id)
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
