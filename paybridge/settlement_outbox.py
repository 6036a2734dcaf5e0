"""The settlement outbox: post every settlement to its ERP exactly once, whatever fails.

pending -> posting -> posted | failed (retried later) | needs_attention (ops must look).

* Claiming marks rows ``posting`` with a claim token in one short transaction; on PostgreSQL the
  candidates are picked with ``FOR UPDATE SKIP LOCKED`` so workers never claim the same row; on
  SQLite the database's single writer serialises claims.
* The ERP call happens outside any database transaction. Its exactly-once effect comes from the
  ERP idempotency key (``settlement_id`` as external id, upserted), so re-posting after a crash,
  a lost response or an expired claim rewrites the same ERP record instead of adding one.
* A worker that dies mid-post leaves the row ``posting``; once its lease expires another worker
  re-claims it. Nothing is dropped: each row ends ``posted`` or ``needs_attention`` with a reason.
  A retry that knows its previous try is dead (an Airflow task retried after its worker was
  lost) takes its rows back at once with ``release_claims`` instead of waiting for the lease.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from paybridge_connectors.erp.protocol import (
    ErpConnector,
    ErpRejectedError,
    ErpUnavailableError,
    PostedSettlement,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge import audit, webhook_outbox
from paybridge.audit import checkpoint as audit_checkpoint
from paybridge.domain.audit_events import AuditEvent
from paybridge.domain.settlements import Settlement, SettlementError
from paybridge.settlement_routing import NO_CONNECTION, FxRate, refresh_erp_details
from paybridge.store.db import transaction
from paybridge.store.models.outbox import SettlementAttempt, SettlementOutboxRow

Outbox = SettlementOutboxRow


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OutboxPolicy:
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=5)
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(minutes=30)
    batch_size: int = 50

    def backoff(self, attempts: int) -> timedelta:
        return min(self.backoff_max, self.backoff_base * (2 ** max(0, attempts - 1)))


@dataclass
class SettleSummary:
    posted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    needs_attention: list[str] = field(default_factory=list)
    due: list[str] = field(default_factory=list)  # dry run: what would be posted
    errors: dict[str, str] = field(default_factory=dict)
    lease_lost: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "posted": len(self.posted),
            "failed_will_retry": len(self.failed),
            "needs_attention": len(self.needs_attention),
            "due": len(self.due),
            "lease_lost": self.lease_lost,
            "errors": self.errors,
        }


class OutboxConflictError(SettlementError):
    """The same settlement id was queued before with different content."""


def enqueue(
    session: Session, settlement: Settlement, connection: str, refusal: str | None = None
) -> bool:
    """Queue a settlement; True if new. Re-queueing identical content is a no-op, different
    content under the same id is refused (an id names one accounting event, forever).

    With ``refusal`` (why it cannot be posted: see ``paybridge.settlement_routing``) the
    settlement is recorded as ``needs_attention`` with that reason instead of ``pending``, so
    no worker picks it up and ``paybridge settlements list`` shows it. The queued settlement
    carries a signed checkpoint of the audit log as of now (ERP memo).
    """
    return enqueue_many(session, [Queued(settlement, connection, refusal)])[0]


@dataclass(frozen=True)
class Queued:
    """One settlement to queue, on the ERP connection it posts to (``refusal``: why it cannot)."""

    settlement: Settlement
    connection: str
    refusal: str | None = None


#: ids per ``IN (...)`` lookup: well under SQLite's and PostgreSQL's bound-parameter limits
LOOKUP_CHUNK = 500


def enqueue_many(session: Session, items: list[Queued]) -> list[bool]:
    """``enqueue`` for many settlements at once: one lookup per chunk of ids, one checkpoint
    and one bulk INSERT instead of a SELECT, a checkpoint and a flush each. Same rules: per item
    True if new, identical content already queued is a no-op, different content is refused
    (``OutboxConflictError``, nothing inserted). The primary key still refuses a second row for
    an id, so a concurrent writer cannot make one settlement twice."""
    ids = list(dict.fromkeys(item.settlement.settlement_id for item in items))
    #: settlement id -> (its content, its status): queued before, or earlier in ``items``
    queued: dict[str, tuple[Settlement, str]] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = session.execute(
            sa.select(Outbox.settlement_id, Outbox.status, Outbox.payload).where(
                Outbox.settlement_id.in_(ids[start : start + LOOKUP_CHUNK])
            )
        )
        for settlement_id, status, payload in rows:
            queued[settlement_id] = (Settlement.from_json(json.loads(payload)), status)
    new: list[bool] = []
    fresh: list[Queued] = []
    for item in items:
        settlement = item.settlement
        if settlement.settlement_id in queued:
            existing, status = queued[settlement.settlement_id]
            # the checkpoint records when it was queued, not what it books: not part of content
            content = replace(settlement, audit_checkpoint=None).canonical_json()
            if replace(existing, audit_checkpoint=None).canonical_json() != content:
                raise OutboxConflictError(
                    f"settlement {settlement.settlement_id} is already queued ({status}) "
                    "with different content; issue a new settlement id for a correction"
                )
            new.append(False)
            continue
        queued[settlement.settlement_id] = (settlement, "queued in this batch")
        fresh.append(item)
        new.append(True)
    if fresh:
        checkpoint = audit_checkpoint.take(session).token()  # the log as of now: one per batch
        now = _now()
        session.connection().execute(  # Core, one executemany (the ORM path costs per row)
            sa.insert(Outbox.__table__),
            [_outbox_row(item, checkpoint, now) for item in fresh],
        )
    return new


def _outbox_row(item: Queued, checkpoint: str, now: datetime) -> dict[str, Any]:
    settlement = replace(item.settlement, audit_checkpoint=checkpoint)
    return {
        "settlement_id": settlement.settlement_id,
        "idempotency_key": settlement.settlement_id,
        "erp_system": settlement.erp_system,
        "connection": item.connection,
        "company": settlement.company,
        "customer_id": settlement.customer_id,
        "currency": settlement.currency,
        "payment_amount": settlement.payment_amount,
        "payload": settlement.canonical_json(),
        "status": "pending" if item.refusal is None else "needs_attention",
        "last_error": item.refusal,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _due(now: datetime, policy: OutboxPolicy, connection: str | None) -> sa.ColumnElement[bool]:
    condition = sa.or_(
        sa.and_(Outbox.status.in_(("pending", "failed")), Outbox.next_attempt_at <= now),
        sa.and_(Outbox.status == "posting", Outbox.claimed_at < now - policy.lease),
    )
    return condition if connection is None else sa.and_(condition, Outbox.connection == connection)


@dataclass(frozen=True)
class Claim:
    settlement_id: str
    token: str
    attempt: int
    payload: str


def claim(
    engine: Engine, worker: str, policy: OutboxPolicy, connection: str | None = None
) -> list[Claim]:
    """Mark up to ``batch_size`` due rows as ours until the lease ends; returns what we got."""
    now = _now()
    token = str(uuid.uuid4())
    candidates = (
        sa.select(Outbox.settlement_id)
        .where(_due(now, policy, connection))
        .order_by(Outbox.created_at, Outbox.settlement_id)
        .limit(policy.batch_size)
    )
    if engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    with transaction(engine) as session:
        session.execute(
            sa.update(Outbox)
            .where(Outbox.settlement_id.in_(candidates.scalar_subquery()))
            .where(_due(now, policy, connection))
            .values(
                status="posting",
                claim_token=token,
                claimed_by=worker,
                claimed_at=now,
                attempts=Outbox.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            sa.select(Outbox.settlement_id, Outbox.attempts, Outbox.payload)
            .where(Outbox.claim_token == token)
            .order_by(Outbox.created_at, Outbox.settlement_id)
        ).all()
    return [Claim(r.settlement_id, token, r.attempts, r.payload) for r in rows]


def _finish(
    engine: Engine,
    claimed: Claim,
    worker: str,
    started: datetime,
    outcome: str,
    values: dict[str, Any],
    detail: str | None,
) -> bool:
    """Record the outcome if we still hold the claim; False when the lease was taken over."""
    now = _now()
    with transaction(engine) as session:
        result = session.execute(
            sa.update(Outbox)
            .where(Outbox.settlement_id == claimed.settlement_id)
            .where(Outbox.claim_token == claimed.token)
            .where(Outbox.status == "posting")
            .values(status=outcome, updated_at=now, claim_token=None, **values)
            .execution_options(synchronize_session=False)
        )
        session.add(
            SettlementAttempt(
                settlement_id=claimed.settlement_id,
                attempt=claimed.attempt,
                worker=worker,
                started_at=started,
                finished_at=now,
                outcome=outcome if result.rowcount else f"{outcome}:stale",
                detail=detail,
            )
        )
        if outcome == "posted" and result.rowcount:  # settlement.posted, same transaction
            payload = json.loads(claimed.payload)
            webhook_outbox.enqueue_settlement_posted(session, payload, values, now)
    return bool(result.rowcount)


def _post_one(
    engine: Engine,
    connector: ErpConnector,
    claimed: Claim,
    worker: str,
    policy: OutboxPolicy,
    summary: SettleSummary,
) -> None:
    started = _now()
    outcome, values, detail = "posted", {}, None
    try:
        settlement = Settlement.from_json(json.loads(claimed.payload))
        posted: PostedSettlement = connector.post_settlement(settlement)
        values = {
            "erp_payment_id": posted.payment_id,
            "erp_journal_id": posted.journal_id,
            "posted_at": _now(),
            "last_error": None,
        }
    except (ErpRejectedError, SettlementError) as exc:
        outcome, detail = "needs_attention", str(exc)
    except Exception as exc:  # transient (ErpUnavailableError) or unexpected: retry, bounded
        detail = f"{type(exc).__name__}: {exc}"
        if claimed.attempt >= policy.max_attempts:
            outcome = "needs_attention"
            detail = f"gave up after {claimed.attempt} attempts: {detail}"
        else:
            outcome = "failed"
            values = {"next_attempt_at": _now() + policy.backoff(claimed.attempt)}
        if not isinstance(exc, ErpUnavailableError):
            detail = f"unexpected error: {detail}"
    if outcome != "posted":
        values["last_error"] = detail
    if not _finish(engine, claimed, worker, started, outcome, values, detail):
        summary.lease_lost += 1
        return
    {"posted": summary.posted, "failed": summary.failed}.get(
        outcome, summary.needs_attention
    ).append(claimed.settlement_id)
    if detail:
        summary.errors[claimed.settlement_id] = detail


def post_due(
    engine: Engine,
    connector: ErpConnector,
    *,
    worker: str | None = None,
    policy: OutboxPolicy | None = None,
    connection: str | None = None,
    dry_run: bool = False,
    on_progress: Callable[[str, str], None] | None = None,
) -> SettleSummary:
    """Post everything due now (loops over batches until none is left for this worker)."""
    policy = policy or OutboxPolicy()
    worker = worker or f"worker-{uuid.uuid4().hex[:8]}"
    summary = SettleSummary()
    if dry_run:
        with transaction(engine) as session:
            summary.due = list(
                session.scalars(
                    sa.select(Outbox.settlement_id)
                    .where(_due(_now(), policy, connection))
                    .order_by(Outbox.created_at, Outbox.settlement_id)
                )
            )
        return summary
    while batch := claim(engine, worker, policy, connection):
        for claimed in batch:
            _post_one(engine, connector, claimed, worker, policy, summary)
            if on_progress:
                on_progress(claimed.settlement_id, "done")
    return summary


def release_claims(engine: Engine, worker: str) -> int:
    """Put rows claimed by ``worker`` and still ``posting`` back to ``pending``; how many.

    Only for a worker name that is dead for sure (e.g. the previous try of the same Airflow
    task instance, which Airflow only retries once it considers that try gone). Were it alive
    after all, re-posting is still safe: the ERP idempotency key rewrites the same record, and
    its late outcome is recorded as stale (its claim token no longer matches)."""
    now = _now()
    with transaction(engine) as session:
        result = session.execute(
            sa.update(Outbox)
            .where(Outbox.status == "posting")
            .where(Outbox.claimed_by == worker)
            .values(status="pending", claim_token=None, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount)


def requeue(
    engine: Engine,
    settlement_id: str,
    actor: str = "ops",
    reason: str | None = None,
    fx_rate: FxRate | None = None,
) -> None:
    """Ops decided a needs_attention settlement may go again (after fixing the cause).

    The ERP details taken from the invoice (its A/R account) and the exchange rate (with
    ``fx_rate``, from the configuration now) are refreshed, so fixing the configuration or
    re-syncing the invoice is enough; the accounting content never changes. Refused for a
    settlement with no ERP connection (its invoice was imported from a file): re-queueing it
    would only make it wait for a worker that never comes."""
    now = _now()
    with transaction(engine) as session:
        row = session.get(Outbox, settlement_id)
        if row is not None and row.connection == NO_CONNECTION:
            raise SettlementError(
                f"settlement {settlement_id} has no ERP connection (its invoice did not come "
                "from an ERP sync); nothing requeued: record it in the ERP by hand"
            )
        before: dict[str, object] = {}
        if row is not None and fx_rate is not None and row.status in ("needs_attention", "failed"):
            queued = Settlement.from_json(json.loads(row.payload))
            fresh, refusal = refresh_erp_details(session, queued, row.connection, fx_rate)
            if refusal is not None:
                raise SettlementError(f"settlement {settlement_id}: still {refusal}")
            if fresh != queued:
                before = {
                    "ar_account": queued.ar_account,
                    "exchange_rate": str(queued.exchange_rate),
                }
                row.payload = fresh.canonical_json()
        result = session.execute(
            sa.update(Outbox)
            .where(Outbox.settlement_id == settlement_id)
            .where(Outbox.status.in_(("needs_attention", "failed")))
            .values(
                status="pending", attempts=0, next_attempt_at=now, updated_at=now, last_error=None
            )
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:
            raise SettlementError(
                f"settlement {settlement_id} is not in needs_attention/failed; nothing requeued"
            )
        audit.append(
            session,
            [
                AuditEvent(
                    actor=actor,
                    entity_type="settlement",
                    entity_id=settlement_id,
                    action="requeue",
                    before=before or None,
                    after={"status": "pending"},
                    reason=reason,
                )
            ],
        )


def status_counts(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        rows = session.execute(
            sa.select(Outbox.status, sa.func.count()).group_by(Outbox.status)
        ).all()
    return {status: count for status, count in rows}
