"""Receipts in chain order: `prepare.prepare_receipts` builds it, the rule modules
read it. Its own module so that the rules need not import the engine that calls them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from paybridge_reconciliation.labels import coded, coded_from, text_codes


class ChainOrderReceipts:
    """Receipts in chain order, column by column.

    The numeric columns the rules work on are put in chain order up front; text columns
    (tx hash, addresses, status, ...) stay in input order and are put in chain order only when
    first asked for (publishing evidence): the rules only need integer codes of them. Supports
    what the engine and publishing use of a DataFrame: rc[column], rc[column] = values, len(rc).
    """

    def __init__(self, numeric: pd.DataFrame, text: pd.DataFrame, order: np.ndarray) -> None:
        self.numeric = numeric
        self.text = text
        self.order = order  # chain position -> input row
        self._codes: dict[str, tuple[np.ndarray, pd.Index]] = {}  # `coded_at`'s, per column

    def __len__(self) -> int:
        return len(self.numeric)

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self.numeric.columns:
            self.numeric[name] = self.text[name].take(self.order).reset_index(drop=True)
        return self.numeric[name]

    def __setitem__(self, name: str, values: np.ndarray | pd.Series) -> None:
        self.numeric[name] = values

    def has(self, name: str) -> bool:
        return name in self.numeric.columns or name in self.text.columns

    def text_at(self, name: str, rpos: np.ndarray) -> pd.Series:
        """Values of a column at chain positions rpos (text taken straight from input rows)."""
        rpos = np.asarray(rpos, dtype=np.int64)
        if name in self.numeric.columns:
            return self.numeric[name].take(rpos).reset_index(drop=True)
        return self.text[name].take(self.order[rpos]).reset_index(drop=True)

    def coded_at(self, name: str, rpos: np.ndarray) -> pd.Series:
        """Like `text_at`, as a Categorical: for columns of a few distinct values (assets),
        coded once and the codes gathered, not the text."""
        rpos = np.asarray(rpos, dtype=np.int64)
        if name not in self.text.columns:
            return coded(self.numeric[name], rpos)
        if name not in self._codes:  # the text hashed once, however often it is asked for
            self._codes[name] = text_codes(self.text[name])
        return coded_from(*self._codes[name], self.order[rpos])

    def in_input_order(self, name: str) -> pd.Series:
        """A text column as given: row i is input row i (`order` maps chain positions to it)."""
        return self.text[name]

    def only(self, names: tuple[str, ...]) -> ChainOrderReceipts:
        """The same receipts with only the columns ``names`` (those present), each column its
        own (copied out of pandas' 2-D blocks: a kept view would keep the whole block)."""
        return ChainOrderReceipts(
            own_columns(self.numeric, names), own_columns(self.text, names), self.order
        )


def own_columns(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """``frame``'s columns ``names`` that it has, in a frame that shares no 2-D block with it
    (Arrow-backed text is immutable and not copied; numeric columns are, 8 bytes a row)."""
    kept = {n: frame[n] for n in names if n in frame.columns}
    return pd.DataFrame(kept, index=frame.index, copy=True)
