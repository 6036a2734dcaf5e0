"""The exceptions queue in the store: one row per problem, stable across runs.

The engine names an exception by reason and receipt position, which shifts as receipts
arrive; the queue keys it by what it is about (reason + the transfer's identity chain/tx/event
key, or reason + request) and gives it a short stable id (``EX-...``) people can type. A
person's status (proposed, resolved) survives re-runs; an open exception a later run no longer
raises is resolved with a note saying so (e.g. a receipt that became final). Only an identical
replay of a recorded transfer resolves itself; an exception the machine resolved that is raised
again is open again (nobody decided it).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from paybridge_reconciliation.identity import log_index_of
from sqlalchemy.orm import Session

from paybridge.store.models.reconciliation import ReconException

#: raised for the record only: nothing for a person to do (the engine raises DUPLICATE_EVENT
#: only for the very same transfer again: identity, recipient, asset and amount, with amount 0)
SELF_RESOLVING = {"DUPLICATE_EVENT": "ignored: identical replay of an already recorded transfer"}
NO_LONGER_RAISED = "no longer raised by reconciliation"
#: notes the machine wrote before event keys (issue 8), still recognised as nobody's decision
OLD_MACHINE_NOTES = frozenset({"ignored: replay of an already recorded transfer"})


def resolved_by_machine(exc: ReconException) -> bool:
    """Resolved without a person: a self-resolving replay, or no longer raised by a run."""
    note = exc.resolution_note or ""
    machine = set(SELF_RESOLVING.values()) | OLD_MACHINE_NOTES
    return note.startswith(NO_LONGER_RAISED) or note in machine


def queue_keys(exceptions: pd.DataFrame) -> list[str]:
    keys: list[str] = []
    seen: dict[str, int] = {}
    for row in exceptions.itertuples(index=False):
        if row.tx_hash:
            key = f"{row.reason}:{row.chain_id}:{row.tx_hash}:{row.event_key}"
        else:
            key = f"{row.reason}:{row.request_id}"
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return keys


def exception_id_for(queue_key: str) -> str:
    return "EX-" + hashlib.sha256(queue_key.encode()).hexdigest()[:12]


def _int_or_none(text: object) -> int | None:
    value = str(text).strip()
    return int(value) if value else None


def sync_exceptions(session: Session, run_id: str, exceptions: pd.DataFrame, now: datetime) -> int:
    """Upsert this run's exceptions; returns how many are open or proposed afterwards."""
    existing = {e.queue_key: e for e in session.scalars(sa.select(ReconException))}
    raised: set[str] = set()
    for key, row in zip(queue_keys(exceptions), exceptions.itertuples(index=False), strict=True):
        raised.add(key)
        values = {
            "reason": str(row.reason),
            "chain_id": _int_or_none(row.chain_id),
            "tx_hash": str(row.tx_hash) or None,
            "event_key": str(row.event_key) or None,
            "log_index": log_index_of(str(row.event_key)),
            "block_time": str(row.block_time) or None,
            "asset": str(row.asset) or None,
            "from_address": str(row.from_address) or None,
            "to_address": str(row.to_address) or None,
            "amount": int(row.amount),
            "request_id": str(row.request_id) or None,
            "customer_id": str(row.customer_id) or None,
            "remaining_due": _int_or_none(row.remaining_due),
            "detail": str(row.detail),
            "suggested_action": str(row.suggested_action),
            "last_run_id": run_id,
            "updated_at": now,
        }
        current = existing.get(key)
        if current is None:
            note = SELF_RESOLVING.get(str(row.reason))
            session.add(
                ReconException(
                    exception_id=exception_id_for(key),
                    queue_key=key,
                    status="resolved" if note else "open",
                    resolution_note=note,
                    first_run_id=run_id,
                    created_at=now,
                    **values,
                )
            )
        elif current.status == "open":
            for name, value in values.items():
                setattr(current, name, value)
        elif current.status == "resolved" and resolved_by_machine(current):
            note = SELF_RESOLVING.get(str(row.reason))
            for name, value in values.items():
                setattr(current, name, value)
            current.status = "resolved" if note else "open"  # raised again: a person decides
            current.resolution_note = note
        else:
            current.last_run_id, current.updated_at = run_id, now
    for key, current in existing.items():
        if key not in raised and current.status == "open":
            current.status = "resolved"
            current.resolution_note = f"{NO_LONGER_RAISED} {run_id}"
            current.updated_at = now
    session.flush()
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ReconException)
            .where(ReconException.status.in_(("open", "proposed")))
        )
        or 0
    )
