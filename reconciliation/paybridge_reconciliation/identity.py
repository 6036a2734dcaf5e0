"""The identity of one transfer: (chain id, tx hash, event key).

The event key says which movement of value inside the transaction it is: ``log:<index>`` for a
token Transfer log, ``tx`` for the transaction's own (top-level) value, ``trace:<path>`` for an
internal call (Parity-style trace address, e.g. ``trace:0.1``). A transaction can carry several
transfers (a batch withdrawal pays many addresses by internal calls), so the tx hash alone, or
the tx hash with a log index, does not name a transfer; the event key does, and it travels
unchanged from the watcher to the engine's inputs and outputs, the store, settlements and
tie-outs.

Columns are handled vectorised (Arrow compute), never row by row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EVENT_KEY_RE = r"^(tx|log:(0|[1-9][0-9]{0,8})|trace:(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5}))*)$"
EVENT_KEY_MAX_LEN = 96  # the store's column width


def event_keys_from_log_index(log_index: np.ndarray | pd.Series) -> np.ndarray:
    """``log:<n>`` for each log index (files and frames that predate event keys)."""
    text = pc.cast(pa.array(np.asarray(log_index, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise("log:", text, "").to_numpy(zero_copy_only=False)


def valid_event_keys(event_key: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where the text is a well-formed event key."""
    ok = pc.match_substring_regex(event_key, EVENT_KEY_RE)
    short = pc.less_equal(pc.utf8_length(event_key), EVENT_KEY_MAX_LEN)
    return pc.and_(ok, short).to_numpy(zero_copy_only=False).astype(bool)


def event_position(event_key: pd.Series | np.ndarray) -> np.ndarray:
    """Sort position of each transfer inside its block: the log index for ``log:<n>``, else 0.

    Chain order is (block time, chain, block, this, tx hash, event key), so logs keep the
    order they always had and the other transfers of a transaction sort by their key.
    """
    keys = pa.array(np.asarray(event_key, dtype=object), pa.string())
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    is_log = pc.starts_with(keys, "log:")
    digits = pc.if_else(is_log, pc.utf8_slice_codeunits(keys, 4), "0")
    return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)


def log_index_of(event_key: str) -> int | None:
    """The log index of one ``log:<n>`` key; None for ``tx`` and ``trace:`` transfers (the
    store's nullable ``log_index`` column; ``event_position`` is the vectorised sort key)."""
    return int(event_key[4:]) if event_key.startswith("log:") else None


def with_event_key(receipts: pd.DataFrame) -> pd.DataFrame:
    """Receipts with an ``event_key`` column (built from ``log_index`` when only that exists)."""
    if "event_key" in receipts.columns:
        return receipts
    if "log_index" not in receipts.columns:
        raise ValueError("receipts need an event_key column (or a log_index column)")
    return receipts.assign(event_key=event_keys_from_log_index(receipts["log_index"]))
