"""Each request's status after matching: what was applied, what remains, what is written off
within tolerance, and the underpaid requests that go to a person."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paybridge_reconciliation.amounts import as_object, int64_if_all_fit

STATUS_NAMES = ["open", "expired", "partial", "paid_within_tolerance", "paid", "overpaid"]
STATUS_ARROW = pa.array(STATUS_NAMES, pa.large_string())


def request_status(
    due: np.ndarray,
    tolerance: np.ndarray,
    applied: np.ndarray,
    expired: np.ndarray,
    paid_late: np.ndarray,
    paid_over: np.ndarray,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The status frame (one row per request position) and the positions of the underpaid
    requests. ``applied`` is in units of each request's quote (auto-applied matches only)."""
    remaining = as_object(due) - as_object(applied)
    status = status_codes(remaining, as_object(applied), as_object(tolerance), expired, paid_over)
    remaining = np.where(remaining > 0, remaining, 0)
    within = status == STATUS_NAMES.index("paid_within_tolerance")
    frame = pd.DataFrame(
        {
            "status": pd.Series(pc.take(STATUS_ARROW, pa.array(status)), dtype="str"),
            "amount_applied": as_object(applied),
            "remaining_due": np.where(within, 0, remaining),
            "write_off_units": np.where(within, remaining, 0),
            "paid_late": paid_late,
            "paid_over": paid_over,
        }
    )
    return frame, np.flatnonzero(status == STATUS_NAMES.index("partial"))


def status_codes(
    remaining: np.ndarray,
    applied: np.ndarray,
    tolerance: np.ndarray,
    expired: np.ndarray,
    over: np.ndarray,
) -> np.ndarray:
    """Codes into STATUS_NAMES: `tolerance.classify_amount_vec` (remaining = due - applied),
    unpaid split into expired/open, and a flagged overpayment shown as overpaid unless the
    request is still partly open."""
    applied, remaining, tolerance = int64_if_all_fit(applied, remaining, tolerance)
    code = np.select(
        [applied <= 0, remaining == 0, remaining < 0, remaining <= tolerance],
        [0, 4, 5, 3],
        default=2,
    ).astype(np.int64)
    code = np.where((code == 0) & expired, 1, code)
    return np.where(over & (code != 2), 5, code)
