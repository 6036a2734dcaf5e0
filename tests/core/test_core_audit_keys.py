"""Tamper evidence that survives the database: keyed hashes, signed checkpoints, key rotation.

Each test plays one attack by someone who can write the database but does not hold the audit
key (kept outside it): the keyed chain or a checkpoint taken before the attack must show it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from audit_samples import sample_events
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.audit import checkpoint as audit_checkpoint
from paybridge.audit.keys import AuditKeyError, KeyRing, parse_ring, use_ring
from paybridge.store.db import transaction
from paybridge.store.models import AuditEntry, AuditHead


@pytest.fixture
def ring() -> Iterator[KeyRing]:
    key_ring = KeyRing.generate("the test ring")
    use_ring(key_ring)
    yield key_ring
    use_ring(None)


@pytest.fixture
def logged(store: Engine, ring: KeyRing) -> Engine:
    for start in (0, 3):
        with transaction(store) as session:
            audit.append(session, sample_events(3, start))
    return store


def _checkpoint(engine: Engine) -> audit_checkpoint.Checkpoint:
    with transaction(engine) as session:
        return audit_checkpoint.take(session)


def _verify(engine: Engine, cp: audit_checkpoint.Checkpoint | None = None) -> audit.VerifyResult:
    with transaction(engine) as session:
        return audit.verify(session) if cp is None else audit_checkpoint.verify_since(session, cp)


def _rows(engine: Engine) -> list[dict]:
    with engine.begin() as conn:
        rows = conn.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.seq))
        return [dict(r._mapping) for r in rows]


def _rechain(engine: Engine, rows: list[dict], sign) -> None:  # type: ignore[no-untyped-def]
    """What an attacker with database access does: recompute every hash and the tip."""
    prev = audit.GENESIS_HASH
    for row in rows:
        row["prev_hash"] = prev
        fields = [row[k] for k in ("actor", "entity_type", "entity_id", "action")]
        fields += [row["before"], row["after"], row["reason"]]
        row["hash"] = prev = sign(row, fields)
    with engine.begin() as conn:
        conn.execute(sa.delete(AuditEntry))
        conn.execute(sa.insert(AuditEntry), rows)
        conn.execute(sa.update(AuditHead).values(seq=len(rows), hash=prev))


def test_entries_carry_a_keyed_hash_and_the_key_id(logged: Engine, ring: KeyRing) -> None:
    rows = _rows(logged)
    assert {r["key_id"] for r in rows} == {ring.active_id}
    assert _verify(logged).ok
    with transaction(logged) as session:  # the same chain under another key does not verify
        result = audit.verify(session, KeyRing.generate())
    assert not result.ok and result.first_bad_seq == 1 and "not in" in (result.problem or "")


def test_dropping_the_newest_rows_and_moving_the_tip_is_caught_by_a_checkpoint(
    logged: Engine,
) -> None:
    cp = _checkpoint(logged)
    with logged.begin() as conn:
        conn.execute(sa.delete(AuditEntry).where(AuditEntry.seq > 4))
        tip = conn.scalar(sa.select(AuditEntry.hash).where(AuditEntry.seq == 4))
        conn.execute(sa.update(AuditHead).values(seq=4, hash=tip))
    assert _verify(logged).ok  # what the finding showed: the shortened chain is consistent
    result = _verify(logged, cp)
    assert not result.ok and result.first_bad_seq == 5
    assert "entries 5..6 were deleted (truncation)" in (result.problem or "")


def test_deleting_the_whole_log_is_caught_by_a_checkpoint(logged: Engine) -> None:
    cp = _checkpoint(logged)
    with logged.begin() as conn:
        conn.execute(sa.delete(AuditEntry))
        conn.execute(sa.delete(AuditHead))
    result = _verify(logged, cp)
    assert not result.ok and "the log was deleted" in (result.problem or "")


def test_recomputing_every_hash_after_an_edit_without_the_key_is_caught(
    logged: Engine, ring: KeyRing
) -> None:
    cp = _checkpoint(logged)
    rows = _rows(logged)
    rows[1]["reason"] = "covered up"

    def unkeyed(row: dict, fields: list) -> str:  # the old algorithm, same key id
        return audit.entry_hash(row["seq"], row["at"], row["prev_hash"], fields)

    _rechain(logged, rows, unkeyed)
    result = _verify(logged)
    assert not result.ok and result.first_bad_seq == 1 and "altered" in (result.problem or "")

    # ... or under a key of the attacker's own (its id is not in the ring)
    own = KeyRing.generate()
    for row in rows:
        row["key_id"] = own.active_id
    _rechain(
        logged,
        rows,
        lambda row, fields: audit.entry_hash(
            row["seq"], row["at"], row["prev_hash"], fields, own.active_id, own.active_key
        ),
    )
    result = _verify(logged)
    assert not result.ok and f"audit key {own.active_id}" in (result.problem or "")

    # ... or as "entries from before audit keys": an unkeyed log that nothing keyed seals
    for row in rows:
        row["key_id"] = None
    _rechain(logged, rows, unkeyed)
    result = _verify(logged)
    assert not result.ok and "no keyed hash" in (result.problem or "")
    assert not _verify(logged, cp).ok


def test_rewrite_with_the_key_since_a_checkpoint_is_caught(logged: Engine, ring: KeyRing) -> None:
    """Even an insider with the key who re-chains everything cannot match an older checkpoint."""
    cp = _checkpoint(logged)
    rows = _rows(logged)
    rows[2]["actor"] = "mallory"
    _rechain(
        logged,
        rows,
        lambda row, fields: audit.entry_hash(
            row["seq"], row["at"], row["prev_hash"], fields, row["key_id"], ring.active_key
        ),
    )
    assert _verify(logged).ok
    result = _verify(logged, cp)
    assert not result.ok and "rewritten" in (result.problem or "")


def test_forged_checkpoints_are_refused(logged: Engine, ring: KeyRing) -> None:
    cp = _checkpoint(logged)
    assert _verify(logged, cp).ok
    fewer = audit_checkpoint.Checkpoint(3, cp.head_hash, cp.at, cp.key_id, cp.signature)
    result = _verify(logged, fewer)
    assert not result.ok and "forged or altered" in (result.problem or "")
    other = KeyRing.generate()
    foreign = audit_checkpoint.Checkpoint(3, cp.head_hash, cp.at, "").signed(other)
    result = _verify(logged, foreign)
    assert not result.ok and other.active_id in (result.problem or "")
    # both forms carry the same signed fields
    assert audit_checkpoint.parse(cp.token(), "memo") == cp
    assert audit_checkpoint.parse(f"PayBridge settlement x audit:{cp.token()}", "memo") == cp


def test_key_rotation_keeps_old_entries_and_checkpoints_verifiable(
    logged: Engine, ring: KeyRing
) -> None:
    old_cp = _checkpoint(logged)
    rotated = ring.rotated()
    use_ring(rotated)
    with transaction(logged) as session:
        audit.append(session, sample_events(2, start=6))
    key_ids = [r["key_id"] for r in _rows(logged)]
    assert key_ids == [ring.active_id] * 6 + [rotated.active_id] * 2
    assert _verify(logged).ok and _verify(logged, old_cp).ok
    assert _verify(logged, _checkpoint(logged)).ok
    # the ring survives being written and read back, retired key first, active key last
    reread = parse_ring(rotated.text(), "file")
    assert reread.active_id == rotated.active_id and reread.keys == rotated.keys
    # dropping the retired key makes its entries unverifiable, and says which key is missing
    with transaction(logged) as session:
        alone = KeyRing({rotated.active_id: rotated.active_key}, rotated.active_id, "new only")
        result = audit.verify(session, alone)
    assert not result.ok and result.first_bad_seq == 1 and ring.active_id in (result.problem or "")


def test_entries_from_before_audit_keys_verify_once_sealed(store: Engine, ring: KeyRing) -> None:
    """A store upgraded by migration 0005 holds unkeyed entries (key_id NULL, plain SHA-256)."""
    at = datetime(2026, 1, 5, tzinfo=UTC)
    prev, rows = audit.GENESIS_HASH, []
    for seq, event in enumerate(sample_events(3), start=1):
        fields = [event.actor, event.entity_type, event.entity_id, event.action, None]
        fields += [audit.canonical_json(event.after), event.reason]
        digest = audit.entry_hash(seq, at, prev, fields)
        assert (
            digest
            == hashlib.sha256(
                audit.json.dumps(
                    [seq, at.isoformat(timespec="microseconds"), prev, *fields],
                    separators=(",", ":"),
                ).encode()
            ).hexdigest()
        )
        rows.append(
            dict(
                zip(
                    ("actor", "entity_type", "entity_id", "action", "before", "after", "reason"),
                    fields,
                    strict=True,
                )
            )
            | {"seq": seq, "at": at, "prev_hash": prev, "hash": digest}
        )
        prev = digest
    with store.begin() as conn:
        conn.execute(sa.insert(AuditEntry), rows)
        conn.execute(sa.insert(AuditHead).values(id=1, seq=3, hash=prev))
    result = _verify(store)
    assert not result.ok and "seal-legacy" in (result.problem or "")
    with transaction(store) as session:
        assert audit.seal_legacy(session, actor="admin") == 3
        assert audit.seal_legacy(session, actor="admin") == 0  # idempotent
    result = _verify(store)
    assert result.ok and result.entries == 4 and result.legacy_entries == 3
    with store.begin() as conn:  # a legacy entry is still protected once sealed
        conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    assert _verify(store).first_bad_seq == 2
    with store.begin() as conn:
        conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == 2).values(actor="alice"))
        conn.execute(sa.update(AuditEntry).where(AuditEntry.seq == 4).values(key_id=None))
    result = _verify(store)  # downgrading the seal to "legacy" breaks it
    assert not result.ok and result.first_bad_seq == 4


def test_no_audit_key_means_nothing_is_written(store: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PAYBRIDGE_AUDIT_KEY_FILE", "/nonexistent/paybridge-audit.key")
    with pytest.raises(AuditKeyError, match="paybridge init"), transaction(store) as session:
        audit.append(session, sample_events(1))
    with store.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_upgrade_from_0004_keeps_the_old_log_verifiable(database_url: str, ring: KeyRing) -> None:
    """A real upgrade: a log written by 0004's code (unkeyed) migrates to 0005 unchanged."""
    from paybridge.store.db import create_engine_for, migrate

    engine = create_engine_for(database_url)
    try:
        migrate(engine, "0004_reconciliation")
        at, prev = datetime(2026, 1, 5, tzinfo=UTC), audit.GENESIS_HASH
        with engine.begin() as conn:
            for seq in (1, 2):
                fields = ["bob", "payment_request", f"pr_{seq}", "create", None, None, "old"]
                digest = audit.entry_hash(seq, at, prev, fields)
                conn.execute(
                    sa.text(
                        "insert into audit_log (seq, at, actor, entity_type, entity_id, action,"
                        " reason, prev_hash, hash) values (:seq, :at, 'bob', 'payment_request',"
                        " :eid, 'create', 'old', :prev, :hash)"
                    ),
                    {"seq": seq, "at": at, "eid": f"pr_{seq}", "prev": prev, "hash": digest},
                )
                prev = digest
            conn.execute(sa.text("insert into audit_head values (1, 2, :h)"), {"h": prev})
        migrate(engine)
        with transaction(engine) as session:
            assert "seal-legacy" in (audit.verify(session).problem or "")
            audit.append(session, sample_events(1))  # any keyed entry seals what precedes it
        result = _verify(engine)
        assert result.ok and result.entries == 3 and result.legacy_entries == 2
    finally:
        engine.dispose()
