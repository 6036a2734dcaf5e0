"""Append-only audit log, chained with a keyed hash whose key is not in the database.

Every entry's hash is an HMAC-SHA256 (with the audit key named by its ``key_id``) over its own
fields and the previous entry's hash, so editing, deleting or reordering any row breaks the
chain at that row, and nobody without the key can recompute the chain after an edit. What a
key cannot show by itself (the newest rows dropped, or the whole log deleted) a signed
checkpoint kept outside the database shows (``paybridge.audit.checkpoint``).

Appenders first bump the single ``audit_head`` row, which takes the write lock on SQLite and a
row lock on PostgreSQL: concurrent writers are serialised and the chain never forks.
Entries written before keys existed (``key_id`` NULL, plain SHA-256) still verify, but only as
a prefix that a keyed entry seals (``seal_legacy``): an unkeyed entry after a keyed one, or a
log of nothing but unkeyed entries, is what a rewrite without the key looks like.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge import webhook_outbox
from paybridge.audit.keys import KeyRing, active_ring
from paybridge.domain.audit_events import AuditEvent
from paybridge.store.bulk import bulk_insert
from paybridge.store.db import after_rollback, before_commit, insert_ignore
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
    key_id: str | None = None,
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 with ``key`` (whose id is hashed too); plain SHA-256 for legacy entries."""
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    return _stamped_hash(seq, stamp, prev_hash, event_fields, key_id, key)


def _stamped_hash(
    seq: int,
    stamp: str,
    prev_hash: str,
    event_fields: Sequence[str | None],
    key_id: str | None,
    key: bytes | None,
) -> str:
    """``entry_hash`` with the time already written as it hashes it (``stamp``): a batch of
    entries shares one time, written once."""
    if key is None:
        payload = json.dumps([seq, stamp, prev_hash, *event_fields], separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()
    payload = json.dumps([seq, stamp, prev_hash, key_id, *event_fields], separators=(",", ":"))
    return hmac.digest(key, payload.encode(), "sha256").hex()


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
    # Core on the session's connection: an ORM-enabled UPDATE costs more than its round trip
    # (the head, if loaded in this session, is expired by ``append`` instead)
    connection = session.connection()
    row = connection.execute(_BUMP, {"count": count}).one_or_none()
    if row is None:
        session.execute(
            insert_ignore(session, AuditHead, {"id": _HEAD_ID, "seq": 0, "hash": GENESIS_HASH})
        )
        row = connection.execute(_BUMP, {"count": count}).one()
    return row.seq - count, row.hash


def append(
    session: Session,
    events: Iterable[AuditEvent],
    at: datetime | None = None,
    *,
    ring: KeyRing | None = None,
) -> int:
    """Append events in order inside the caller's transaction; returns the last sequence number.

    Signed with the active audit key (see ``paybridge.audit.keys``): without one, nothing is
    written and :class:`~paybridge.audit.keys.AuditKeyError` says how to configure it.
    """
    return append_groups(session, [(events, at or datetime.now(UTC))], ring=ring)


def append_groups(
    session: Session,
    groups: Iterable[tuple[Iterable[AuditEvent], datetime]],
    *,
    ring: KeyRing | None = None,
) -> int:
    """``append`` for several groups of events, each with its own time, in order: one claim of
    the chain's head for all of them (a batch of API orders takes the head's lock once).

    Each entry is hashed exactly as ``append`` alone would hash it (its group's time, the
    previous entry's hash): the chain reads the same as appending the groups one by one."""
    timed = [(list(events), at.astimezone(UTC)) for events, at in groups]
    batch = [(event, when) for events, when in timed for event in events]
    if not batch:
        return 0
    ring = ring or active_ring()
    key_id, key = ring.active_id, ring.active_key
    # webhook events for payment changes, in this same transaction (the outbox); written
    # before the chain's head is locked, so other appenders do not wait for these queries
    webhook_outbox.enqueue_timed_audit_events(session, batch)
    last_seq, prev_hash = _claim_sequence(session, len(batch))
    stamps: dict[datetime, str] = {}  # as entry_hash writes it: every time is UTC
    rows = []
    for offset, (event, when) in enumerate(batch, start=1):
        stamp = stamps.get(when)
        if stamp is None:
            stamp = stamps[when] = when.isoformat(timespec="microseconds")
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
        digest = _stamped_hash(seq, stamp, prev_hash, fields, key_id, key)
        rows.append((seq, when, *fields, prev_hash, digest, key_id))  # in _COLUMNS order
        prev_hash = digest
    connection = session.connection()
    loaded = session.identity_map.get(session.identity_key(AuditHead, _HEAD_ID))
    if loaded is not None:  # changed below by Core: read again when next used
        session.expire(loaded)
    if len(rows) == 1 and connection.dialect.name == "postgresql":
        # one entry (an API order): entry and tip in one statement, one round trip fewer
        # while this transaction holds the chain's head
        entry = {f"entry_{name}": value for name, value in zip(_COLUMNS, rows[0], strict=True)}
        connection.execute(_SET_TIP_AND_INSERT_ONE, {**entry, "tip": prev_hash})
        return last_seq + 1
    # one driver-level executemany (``store.bulk``): the ORM's bulk path costs more per row
    # than the database (and splits rows with and without ``before`` into one INSERT each),
    # Core's executemany processes every value of every row again
    bulk_insert(_ENTRIES, connection.dialect, _COLUMNS).execute(connection, rows)
    connection.execute(_SET_TIP, {"tip": prev_hash})
    return last_seq + len(batch)


_HEAD = AuditHead.__table__
_BUMP = (
    sa.update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(seq=_HEAD.c.seq + sa.bindparam("count"))
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_ENTRIES = AuditEntry.__table__
#: an entry's columns, in the order ``append`` builds its row
_COLUMNS = (
    "seq",
    "at",
    "actor",
    "entity_type",
    "entity_id",
    "action",
    "before",
    "after",
    "reason",
    "prev_hash",
    "hash",
    "key_id",
)
_SET_TIP = sa.update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(hash=sa.bindparam("tip"))
#: bound parameters named apart from the columns, so that none of them becomes a SET clause
_SET_TIP_AND_INSERT_ONE = _SET_TIP.add_cte(
    sa.insert(_ENTRIES)
    .values({column.key: sa.bindparam(f"entry_{column.key}") for column in _ENTRIES.columns})
    .cte("entry")
)


def append_at_commit(session: Session, events: Iterable[AuditEvent], at: datetime) -> None:
    """Append ``events`` just before the caller's transaction commits, not now.

    Why: appending locks the chain's head row until commit, so every other appender waits for
    whatever the caller still does after appending. Deferred, the lock is held for the append
    and the commit only. Same transaction, so the entries are still written with the change
    or not at all (and without an audit key the commit fails, writing nothing).
    """
    pending = session.info.setdefault(_PENDING, [])
    if not pending:
        before_commit(session, _append_pending)
        after_rollback(session, _drop_pending)
    pending.append((list(events), at))


_PENDING = "audit_append_at_commit"


def _append_pending(session: Session) -> None:
    """Every group deferred in this transaction, in one append (one claim of the head)."""
    append_groups(session, session.info.pop(_PENDING, []))


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def seal_legacy(session: Session, actor: str, *, ring: KeyRing | None = None) -> int:
    """Put unkeyed entries from before audit keys under the key: one keyed entry after them.

    Returns how many entries it sealed (0 when the newest entry is already keyed).
    """
    last = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    if last is None or last.key_id is not None:
        return 0
    append(
        session,
        [
            AuditEvent(
                actor=actor,
                entity_type="audit_log",
                entity_id="legacy",
                action="seal",
                after={"legacy_entries": str(last.seq), "legacy_head": last.hash},
                reason="entries written before keyed hashing, sealed under the audit key",
            )
        ],
        ring=ring,
    )
    return last.seq


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_hash: str = GENESIS_HASH
    legacy_entries: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(session: Session, ring: KeyRing | None = None, batch_size: int = 10_000) -> VerifyResult:
    """Re-compute the chain; report the first entry that was edited, deleted or reordered."""
    ring = ring or active_ring()
    expected_seq, prev_hash, count, legacy = 1, GENESIS_HASH, 0, 0
    query = sa.select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    for entry in session.scalars(query):
        count += 1
        problem = _check_entry(entry, expected_seq, prev_hash, legacy == count - 1, ring)
        if problem is not None:
            return VerifyResult(count, min(entry.seq, expected_seq), problem, prev_hash, legacy)
        legacy += entry.key_id is None
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    if legacy and legacy == count:
        return VerifyResult(
            count,
            1,
            f"entries 1..{count} carry no keyed hash and no keyed entry follows them: either "
            "they predate audit keys (seal them once with `paybridge audit seal-legacy`) or the "
            "log was rewritten without the key",
            prev_hash,
            legacy,
        )
    head = session.get(AuditHead, _HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != count or head_hash != prev_hash:
        return VerifyResult(
            count,
            count + 1 if head_seq > count else head_seq,
            f"the log ends at entry {count} but the chain tip records entry {head_seq}: "
            "the newest entries were deleted or the tip was tampered with",
            prev_hash,
            legacy,
        )
    return VerifyResult(count, head_hash=prev_hash, legacy_entries=legacy)


def _check_entry(
    entry: AuditEntry, expected_seq: int, prev_hash: str, all_legacy_so_far: bool, ring: KeyRing
) -> str | None:
    seq = entry.seq
    if seq != expected_seq:
        return (
            f"entry {expected_seq} is missing (next present entry is {seq}): "
            "rows were deleted or renumbered"
        )
    if entry.prev_hash != prev_hash:
        return (
            f"entry {seq} does not follow entry {seq - 1}: "
            "rows were reordered or the previous entry was altered"
        )
    if entry.key_id is None:
        if not all_legacy_so_far:
            return (
                f"entry {seq} has no keyed hash but follows keyed entries: it was written or "
                "rewritten without the audit key"
            )
        key = None
    else:
        key = ring.keys.get(entry.key_id)
        if key is None:
            return (
                f"entry {seq} is signed with audit key {entry.key_id}, which is not in "
                f"{ring.source}: add that retired key back to the ring (or the id was forged)"
            )
    expected = entry_hash(seq, entry.at, entry.prev_hash, _fields(entry), entry.key_id, key)
    if not hmac.compare_digest(expected, entry.hash):
        return f"entry {seq} was altered: its content no longer matches its keyed hash"
    return None
