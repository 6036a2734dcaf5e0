"""Receipts the latest reconciliation left unaccounted for (part of ``tieout chain``).

A receipt the watcher recorded (incoming, identity chain id + tx hash + event key) must end
up applied to a request by the latest run, or in the exceptions queue; whatever part of its
amount is neither is listed as ``UNACCOUNTED``. Receipts the latest run could not see yet
(recorded after it started, or after its ``as_of``) are not judged until the next run.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import sqlalchemy as sa
from paybridge_reconciliation.tieouts import TIE_OUT_COLUMNS
from sqlalchemy.orm import Session

from paybridge.store.models.chain import ChainReceipt
from paybridge.store.models.reconciliation import ReconException, ReconMatch, ReconRun

Identity = tuple[str, str]  # tx hash (lowercase), event key


def _applied(session: Session, run_id: str, chain_id: int) -> dict[Identity, int]:
    rows = session.execute(
        sa.select(ReconMatch.tx_hash, ReconMatch.event_key, ReconMatch.amount_applied).where(
            ReconMatch.run_id == run_id,
            ReconMatch.chain_id == chain_id,
            ReconMatch.decision == "auto",
        )
    )
    totals: dict[Identity, int] = defaultdict(int)
    for tx_hash, event_key, amount in rows:
        totals[(tx_hash.lower(), event_key or "")] += int(amount)
    return totals


def _queued(session: Session, run_id: str, chain_id: int) -> dict[Identity, int]:
    """Amounts in the queue raised by the run (any status: open, proposed or resolved)."""
    rows = session.execute(
        sa.select(ReconException.tx_hash, ReconException.event_key, ReconException.amount).where(
            ReconException.last_run_id == run_id,
            ReconException.chain_id == chain_id,
            ReconException.tx_hash.is_not(None),
        )
    )
    totals: dict[Identity, int] = defaultdict(int)
    for tx_hash, event_key, amount in rows:
        totals[(tx_hash.lower(), event_key or "")] += int(amount)
    return totals


def unaccounted_receipts(session: Session, chain_id: int, block: int) -> pd.DataFrame:
    """Tie-out rows (``TIE_OUT_COLUMNS``) for receipts up to ``block`` the latest run neither
    applied nor queued in full; empty when there is no run yet."""
    run = session.scalars(sa.select(ReconRun).order_by(ReconRun.started_at.desc())).first()
    if run is None:
        return pd.DataFrame(columns=TIE_OUT_COLUMNS)
    applied = _applied(session, run.run_id, chain_id)
    queued = _queued(session, run.run_id, chain_id)
    receipts = session.execute(
        sa.select(
            ChainReceipt.tx_hash,
            ChainReceipt.event_key,
            ChainReceipt.amount,
            ChainReceipt.to_address,
        )
        .where(
            ChainReceipt.chain_id == chain_id,
            ChainReceipt.direction == "in",
            ChainReceipt.block_number <= block,
            ChainReceipt.block_timestamp <= run.as_of,
            ChainReceipt.first_seen_at <= run.started_at,
        )
        .order_by(ChainReceipt.block_number, ChainReceipt.tx_hash, ChainReceipt.event_key)
    )
    rows = []
    for tx_hash, event_key, amount, to_address in receipts:
        ident = (tx_hash.lower(), event_key)
        accounted = applied.get(ident, 0) + queued.get(ident, 0)
        if accounted != int(amount):
            rows.append(
                {
                    "tie_out": "subledger_vs_chain",
                    "key": f"{chain_id}:{tx_hash.lower()}:{event_key}",
                    "expected": str(amount),
                    "actual": str(accounted),
                    "difference": str(accounted - int(amount)),
                    "status": "UNACCOUNTED",
                    "detail": (
                        f"received at {to_address.lower()}; run {run.run_id} applied "
                        f"{applied.get(ident, 0)}, queue holds {queued.get(ident, 0)}"
                    ),
                }
            )
    return pd.DataFrame(rows, columns=TIE_OUT_COLUMNS)


__all__ = ["unaccounted_receipts"]
