"""What the rules leave: the pool of receipts rule 1 could not apply, which rules 2 and 3 try,
and the exceptions for every receipt, or part of one, that no rule applied automatically.

Why it matters: every unit received is either applied or in front of a person. After the
decisions, each proposed own-address match, each excess left over a paid request and each
pooled receipt nothing took becomes an exception with the reason a person acts on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paybridge_reconciliation.amounts import as_object
from paybridge_reconciliation.exception_rows import ExceptionRows
from paybridge_reconciliation.reasons import Reason
from paybridge_reconciliation.rules_own import OwnAddressMatches


@dataclass
class Pool:
    """Receipts (chain positions, ascending) at an address whose request was already settled
    (``settled``), or after their request's monitoring window."""

    rows: np.ndarray
    settled: np.ndarray

    @classmethod
    def of(cls, settled_rows: np.ndarray, after_rows: np.ndarray) -> Pool:
        rows = np.concatenate([settled_rows, after_rows])
        settled = np.r_[np.ones(len(settled_rows), bool), np.zeros(len(after_rows), bool)]
        order = np.argsort(rows, kind="stable")
        return cls(rows[order], settled[order])


@dataclass
class Decided:
    """Receipt positions of the matches kept, by how they were decided."""

    auto: np.ndarray  # applied automatically
    auto_batch: np.ndarray  # of those, by rule 3
    proposed: np.ndarray  # proposed to a person


def add_leftover_exceptions(
    own: OwnAddressMatches,
    pool: Pool,
    decided: Decided,
    amount: np.ndarray,
    due: np.ndarray,
    ri: np.ndarray,
    auto_band: float,
    exceptions: ExceptionRows,
) -> np.ndarray:
    """Exceptions for what was not applied automatically (``amount`` and ``ri`` per receipt,
    ``due`` per request); returns the receipts whose excess over a paid request stays open
    (their requests are shown as overpaid)."""
    n = len(amount)
    own_proposed = np.flatnonzero(own.confidence < auto_band)
    own_review = own.rows[own_proposed]
    if len(own_proposed):
        exceptions.add_rows(
            own_review,
            Reason.NEEDS_REVIEW,
            _scatter(n, own_review, as_object(own.applied_actual)[own_proposed]),
            ri,
        )
    has_excess = own.excess > 0
    excess_rows = own.rows[has_excess]
    excess_left = _scatter(n, excess_rows, as_object(own.excess[has_excess]))
    excess_open = ~np.isin(excess_rows, decided.auto_batch)
    excess_review = np.isin(excess_rows, decided.proposed) & ~np.isin(excess_rows, own_review)
    exceptions.add_rows(excess_rows[excess_open & excess_review], Reason.AMBIGUOUS, excess_left, ri)
    exceptions.add_rows(
        excess_rows[excess_open & ~excess_review], Reason.OVERPAYMENT, excess_left, ri
    )

    rows = pool.rows
    left = ~np.isin(rows, decided.auto)
    review = np.isin(rows, decided.proposed)
    exceptions.add_rows(rows[left & review], Reason.AMBIGUOUS, amount, ri)
    quiet = left & ~review
    repeat = as_object(amount[rows]) == as_object(due[ri[rows]]) if len(rows) else quiet
    settled = pool.settled
    exceptions.add_rows(rows[quiet & settled & repeat], Reason.DUPLICATE_PAYMENT, amount, ri)
    exceptions.add_rows(rows[quiet & settled & ~repeat], Reason.SETTLED_ADDRESS, amount, ri)
    exceptions.add_rows(rows[quiet & ~settled], Reason.AFTER_WINDOW, amount, ri)
    return excess_rows[excess_open]


def _scatter(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=object)
    out[:] = 0
    out[np.asarray(rows, dtype=np.int64)] = values
    return out
