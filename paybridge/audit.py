"""Append-only, hash-chained audit log.

Every entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any row breaks the chain at that row. Appenders first bump the
single ``audit_head`` row, which takes the write lock on SQLite and a row lock on
PostgreSQL: concurrent writers are serialised and the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.domain.audit_events import AuditEvent
from paybridge.store.db import insert_ignore
from paybridge.store.models import AuditEntry, AuditHead

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


def canonical_json(value: dict[str, Any] | None) -> str | None:
    """Stable text for hashing: sorted keys, no spaces, exact numbers as strings."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(
    seq: int,
    at: datetime,
    prev_hash: str,
    event_fields: Sequence[str | None],
) -> str:
    payload = json.dumps(
        [seq, at.astimezone(UTC).isoformat(timespec="microseconds"), prev_hash, *event_fields],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _fields(entry: AuditEntry) -> list[str | None]:
    return [
        entry.actor,
        entry.entity_type,
        entry.entity_id,
        entry.action,
        entry.before,
        entry.after,
        entry.reason,
    ]


def _claim_sequence(session: Session, count: int) -> tuple[int, str]:
    """Reserve ``count`` sequence numbers; returns (first seq - 1, hash of the current tip)."""
    bump = (
        sa.update(AuditHead)
        .where(AuditHead.id == _HEAD_ID)
        .values(seq=AuditHead.seq + count)
        .returning(AuditHead.seq, AuditHead.hash)
    )
    row = session.execute(bump).one_or_none()
    if row is None:
        session.execute(
            insert_ignore(session, AuditHead, {"id": _HEAD_ID, "seq": 0, "hash": GENESIS_HASH})
        )
        row = session.execute(bump).one()
    return row.seq - count, row.hash


def append(session: Session, events: Iterable[AuditEvent], at: datetime | None = None) -> int:
    """Append events in order inside the caller's transaction; returns the last sequence number."""
    batch = list(events)
    if not batch:
        return 0
    when = (at or datetime.now(UTC)).astimezone(UTC)
    last_seq, prev_hash = _claim_sequence(session, len(batch))
    rows = []
    for offset, event in enumerate(batch, start=1):
        fields = [
            event.actor,
            event.entity_type,
            event.entity_id,
            event.action,
            canonical_json(event.before),
            canonical_json(event.after),
            event.reason,
        ]
        seq = last_seq + offset
        digest = entry_hash(seq, when, prev_hash, fields)
        rows.append(
            {
                "seq": seq,
                "at": when,
                "actor": fields[0],
                "entity_type": fields[1],
                "entity_id": fields[2],
                "action": fields[3],
                "before": fields[4],
                "after": fields[5],
                "reason": fields[6],
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    session.execute(sa.insert(AuditEntry), rows)
    session.execute(sa.update(AuditHead).where(AuditHead.id == _HEAD_ID).values(hash=prev_hash))
    return last_seq + len(batch)


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(session: Session, batch_size: int = 10_000) -> VerifyResult:
    """Re-compute the chain; report the first entry that was edited, deleted or reordered."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    query = sa.select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    for entry in session.scalars(query):
        count += 1
        if entry.seq != expected_seq:
            return VerifyResult(
                count,
                expected_seq,
                f"entry {expected_seq} is missing (next present entry is {entry.seq}): "
                "rows were deleted or renumbered",
            )
        if entry.prev_hash != prev_hash:
            return VerifyResult(
                count,
                entry.seq,
                f"entry {entry.seq} does not follow entry {entry.seq - 1}: "
                "rows were reordered or the previous entry was altered",
            )
        if entry_hash(entry.seq, entry.at, entry.prev_hash, _fields(entry)) != entry.hash:
            return VerifyResult(
                count, entry.seq, f"entry {entry.seq} was altered: its content no longer hashes"
            )
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    head = session.get(AuditHead, _HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != count or head_hash != prev_hash:
        return VerifyResult(
            count,
            count + 1 if head_seq > count else head_seq,
            f"the log ends at entry {count} but the chain tip records entry {head_seq}: "
            "the newest entries were deleted or the tip was tampered with",
        )
    return VerifyResult(count)
