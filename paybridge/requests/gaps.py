"""How far apart paid deposit addresses are: the gap limit a merchant's wallet needs.

Allocation is gap-free (every index up to the highest belongs to a request), but a wallet
discovers addresses by the ones that *received* something: requests that were never paid
(expired, cancelled, abandoned) are runs of unused addresses. A wallet whose gap limit is not
larger than the longest such run stops scanning before the payments behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.store.models import PaymentRequest

WALLET_GAP_LIMIT = 20  # BIP-44's recommended address gap limit, what most wallets use


@dataclass(frozen=True)
class GapReport:
    """Per account xpub: allocated indexes and the longest runs of addresses never paid."""

    xpub_fingerprint: str
    allocated: int
    highest_index: int
    holes: int  # indexes up to the highest that no request carries (0 with gap-free allocation)
    paid: int
    longest_unpaid_run: int  # between index 0 / a paid address and the next paid address
    unpaid_since_last_paid: int  # trailing run: future payments sit behind it

    @property
    def needed_gap_limit(self) -> int:
        """Smallest gap limit that finds every paid address and the next one to be paid."""
        return max(WALLET_GAP_LIMIT, self.longest_unpaid_run + 1, self.unpaid_since_last_paid + 1)


def gap_reports(session: Session) -> list[GapReport]:
    """One report per xpub, computed in one ordered pass over the requests."""
    rows = session.execute(
        sa.select(
            PaymentRequest.xpub_fingerprint,
            PaymentRequest.derivation_index,
            PaymentRequest.amount_received,
        ).order_by(PaymentRequest.xpub_fingerprint, PaymentRequest.derivation_index)
    )
    reports: list[GapReport] = []
    current: str | None = None
    allocated = paid = longest = run = last = 0
    for fingerprint, index, received in rows:
        if fingerprint != current:
            if current is not None:
                reports.append(
                    GapReport(current, allocated, last, last + 1 - allocated, paid, longest, run)
                )
            current, allocated, paid, longest, run, last = fingerprint, 0, 0, 0, 0, -1
        run += index - last - 1  # indexes no request carries count as unused addresses too
        allocated, last = allocated + 1, index
        if received:
            paid += 1
            longest, run = max(longest, run), 0
        else:
            run += 1
    if current is not None:
        reports.append(
            GapReport(current, allocated, last, last + 1 - allocated, paid, longest, run)
        )
    return reports
