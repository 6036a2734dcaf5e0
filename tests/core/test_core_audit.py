"""The audit log is append-only and hash-chained: any edit, deletion or reordering is found."""

from __future__ import annotations

from itertools import pairwise

import pytest
import sqlalchemy as sa
from audit_samples import sample_events
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.audit.keys import active_ring
from paybridge.store.db import transaction
from paybridge.store.models import AuditEntry


@pytest.fixture
def logged(store: Engine) -> Engine:
    with transaction(store) as session:
        audit.append(session, sample_events(3))
    with transaction(store) as session:  # a second batch continues the same chain
        audit.append(session, sample_events(3, start=3))
    return store


def test_intact_log_verifies(logged: Engine) -> None:
    with transaction(logged) as session:
        result = audit.verify(session)
    assert result.ok and result.entries == 6


def test_entries_chain_to_their_predecessor(logged: Engine) -> None:
    with transaction(logged) as session:
        entries = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == audit.GENESIS_HASH
    for previous, entry in pairwise(entries):
        assert entry.prev_hash == previous.hash


def _verify(engine: Engine) -> audit.VerifyResult:
    with transaction(engine) as session:
        return audit.verify(session)


def test_edited_entry_is_named(logged: Engine) -> None:
    with logged.begin() as conn:
        conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == 4).values(actor="mallory"))
    result = _verify(logged)
    assert not result.ok and result.first_bad_seq == 4
    assert "altered" in (result.problem or "")


def test_deleted_entry_is_named(logged: Engine) -> None:
    with logged.begin() as conn:
        conn.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 3))
    result = _verify(logged)
    assert not result.ok and result.first_bad_seq == 3
    assert "missing" in (result.problem or "")


def test_deleted_newest_entry_is_found(logged: Engine) -> None:
    with logged.begin() as conn:
        conn.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 6))
    result = _verify(logged)
    assert not result.ok and result.first_bad_seq == 6


def test_reordered_entries_are_found(logged: Engine) -> None:
    """Swap the content of entries 2 and 5 (keeping their numbers): the chain breaks at 2."""
    with logged.begin() as conn:
        rows = {r.seq: r for r in conn.execute(sa.select(AuditEntry.__table__))}
        for seq, other in ((2, 5), (5, 2)):
            values = {k: v for k, v in rows[other]._mapping.items() if k != "seq"}
            conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == seq).values(**values))
    result = _verify(logged)
    assert not result.ok and result.first_bad_seq == 2


def test_rewritten_hash_is_still_caught(logged: Engine) -> None:
    """Re-hashing an edited row with the audit key (an insider who has it) is not enough: the
    next row no longer follows it. Without the key the row itself no longer verifies."""
    ring = active_ring()
    with transaction(logged) as session:
        entry = session.get(AuditEntry, 2)
        assert entry is not None
        entry.reason = "covered up"
        entry.hash = audit.entry_hash(
            entry.seq,
            entry.at,
            entry.prev_hash,
            audit._fields(entry),
            entry.key_id,
            ring.keys[entry.key_id],
        )
    result = _verify(logged)
    assert not result.ok and result.first_bad_seq == 3
    with transaction(logged) as session:
        entry = session.get(AuditEntry, 2)
        assert entry is not None
        entry.hash = audit.entry_hash(entry.seq, entry.at, entry.prev_hash, audit._fields(entry))
    result = _verify(logged)
    assert not result.ok and result.first_bad_seq == 2 and "altered" in (result.problem or "")
