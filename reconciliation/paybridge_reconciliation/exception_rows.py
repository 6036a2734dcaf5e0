"""The exceptions the engine finds, collected step by step and framed once at the end.

Why a collector: every step of matching (gate, block, rules, leftovers, status) puts receipts
or requests in front of a person for its own reason; each adds small integer columns here, and
one sort at the end gives the fixed output order (receipt, request, reason code).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import as_object
from paybridge_reconciliation.reasons import Reason

REASON_CODE = {r: i for i, r in enumerate(Reason)}  # exceptions sort by this, then text
REASON_TEXT = pa.array([r.value for r in Reason], pa.large_string())


class ExceptionRows:
    """Exceptions by receipt position (chain order; -1 for a request's own exception)."""

    def __init__(self, n_receipts: int) -> None:
        self._n = n_receipts
        self._parts: list[pd.DataFrame] = []

    def add(self, mask: np.ndarray, reason: Reason, amounts: np.ndarray, ri: np.ndarray) -> None:
        """One exception per receipt in ``mask``, with its amount and request taken from
        ``amounts`` and ``ri`` (arrays over all receipts; -1 where no request is named)."""
        idx = np.flatnonzero(mask)
        self._parts.append(
            pd.DataFrame(
                {
                    "rpos": idx,
                    "ri": ri[idx],
                    "reason": REASON_CODE[reason],
                    "amount": as_object(amounts[idx]),
                }
            )
        )

    def add_rows(
        self, rows: np.ndarray, reason: Reason, amounts: np.ndarray, ri: np.ndarray
    ) -> None:
        """`add` for the receipts at positions ``rows`` (in any order, each once or more)."""
        mask = np.zeros(self._n, dtype=bool)
        mask[np.asarray(rows, dtype=np.int64)] = True
        self.add(mask, reason, amounts, ri)

    def add_requests(self, ri: np.ndarray, reason: Reason) -> None:
        """One exception per request position in ``ri``, with no receipt and no amount."""
        self._parts.append(
            pd.DataFrame(
                {
                    "rpos": -1,
                    "ri": ri,
                    "reason": REASON_CODE[reason],
                    "amount": as_object(np.zeros(len(ri), dtype=np.int64)),
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        """rpos, ri, reason (text), amount; ordered by receipt, request, then reason code."""
        exc = pd.concat(self._parts, ignore_index=True)
        reason_code = exc["reason"].to_numpy(np.int64)
        order = np.lexsort(
            [reason_code, exc["ri"].to_numpy(np.int64), exc["rpos"].to_numpy(np.int64)]
        )
        exc = exc.take(order).reset_index(drop=True)
        exc["reason"] = pd.Series(pc.take(REASON_TEXT, pa.array(reason_code[order])), dtype="str")
        return exc
