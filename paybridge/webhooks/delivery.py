"""Draining the webhook outbox: sign, POST, log every attempt, retry with backoff.

A delivery is claimed with a lease (its next attempt moved a minute ahead) in one short
transaction, sent outside any transaction, and recorded in another. A crash between sending
and recording leaves it pending: it is sent again when the lease ends, with the same
``X-Payment-Event-Id``, so receivers de-duplicate and nothing is lost. Network errors, 408,
429 and 5xx are retried with exponential backoff and jitter for up to three days; other
answers fail the delivery (logged); an endpoint that failed still gets new events.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge.client import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from paybridge.store.db import transaction
from paybridge.store.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from paybridge.webhooks.endpoints import WebhookError, check_url, signing_secrets

MAX_AGE = timedelta(days=3)
LEASE = timedelta(seconds=60)
FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=1)


def backoff(attempt: int, rng: Callable[[], float] = random.random) -> timedelta:
    """10 s, 20 s, 40 s ... capped at 1 h, each scaled by a jitter in [0.5, 1)."""
    wait = min(FIRST_RETRY * 2 ** max(attempt - 1, 0), LONGEST_WAIT)
    return wait * (0.5 + rng() / 2)


def retryable(status: int | None) -> bool:
    """None: a network error (no answer)."""
    return status is None or status in (408, 429) or status >= 500


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempt: int
    url: str
    secrets: list[str]
    event_id: str
    payload: str
    created_at: datetime


@dataclass
class DeliverySummary:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def deliver_due(
    engine: Engine,
    *,
    allow_private: bool,
    http: Any = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    batch: int = 100,
    timeout: float = 10.0,
) -> DeliverySummary:
    """Send every delivery due now once (retries wait for their backoff)."""
    import httpx

    client = http or httpx.Client(timeout=timeout, follow_redirects=False)
    summary = DeliverySummary()
    try:
        for claimed in claim(engine, now(), batch):
            status, error, took = _send(client, claimed, allow_private, now())
            record(engine, claimed, status, error, took, now(), summary)
    finally:
        if http is None:
            client.close()
    return summary


def claim(engine: Engine, at: datetime, batch: int) -> list[Claimed]:
    """Lease up to ``batch`` due deliveries to this sender.

    The lease is taken by one UPDATE that re-checks each row is still due, and only the rows
    it changed are claimed: on PostgreSQL FOR UPDATE SKIP LOCKED already keeps two senders
    apart, but SQLite ignores it, and two senders (`paybridge api` and `webhooks deliver
    --loop` on one file) could both read a row as due and both send it."""
    with transaction(engine) as session:
        rows = session.execute(
            sa.select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= at)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(batch)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        ).all()
        if not rows:
            return []
        leased: dict[int, int] = dict(
            session.execute(
                sa.update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_([delivery.id for delivery, _e, _v in rows]),
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_attempt_at <= at,
                )
                .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=at + LEASE)
                .returning(WebhookDelivery.id, WebhookDelivery.attempts)
                .execution_options(synchronize_session=False)
            ).all()  # a list of (id, attempts) pairs; a Result has keys() and misleads dict()
        )
        return [
            Claimed(
                delivery.id,
                leased[delivery.id],
                endpoint.url,
                signing_secrets(endpoint, at),
                event.id,
                event.payload,
                delivery.created_at,
            )
            for delivery, endpoint, event in rows
            if delivery.id in leased
        ]


def _send(
    client: Any, claimed: Claimed, allow_private: bool, at: datetime
) -> tuple[int | None, str | None, int]:
    body = claimed.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PayBridge-Webhooks/1",
        SIGNATURE_HEADER: signature_header(claimed.secrets, int(at.timestamp()), body),
        EVENT_ID_HEADER: claimed.event_id,
    }
    started = time.monotonic()
    try:
        check_url(claimed.url, allow_private=allow_private)  # again: DNS may have changed
        response = client.post(claimed.url, content=body, headers=headers)
        return response.status_code, None, _ms(started)
    except WebhookError as exc:
        return 0, str(exc), _ms(started)  # 0: refused by us, not retried
    except Exception as exc:  # network errors of any kind: retried
        return None, f"{type(exc).__name__}: {exc}", _ms(started)


def record(
    engine: Engine,
    claimed: Claimed,
    status: int | None,
    error: str | None,
    took_ms: int,
    at: datetime,
    summary: DeliverySummary,
) -> None:
    with transaction(engine) as session:
        session.add(
            WebhookAttempt(
                delivery_id=claimed.delivery_id,
                attempt=claimed.attempt,
                at=at,
                status_code=status,
                error=error,
                duration_ms=took_ms,
            )
        )
        delivery = session.get(WebhookDelivery, claimed.delivery_id, with_for_update=True)
        assert delivery is not None
        delivery.last_status, delivery.last_error = status, error
        if status is not None and 200 <= status < 300:
            delivery.state, delivery.delivered_at = "delivered", at
            summary.delivered.append(delivery.id)
        elif status != 0 and retryable(status) and at - claimed.created_at < MAX_AGE:
            delivery.next_attempt_at = at + backoff(claimed.attempt)
            summary.retrying.append(delivery.id)
        else:
            delivery.state = "failed"
            summary.failed.append(delivery.id)


def redeliver(session: Session, event_id: str) -> int:
    """Send an event again to every endpoint it went to (delivered or failed alike)."""
    if session.get(WebhookEvent, event_id) is None:
        raise WebhookError(f"no webhook event {event_id!r}: see `paybridge webhooks deliveries`")
    now = datetime.now(UTC)
    result = session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.event_id == event_id)
        .values(state="pending", next_attempt_at=now, created_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def deliveries(session: Session, endpoint_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The delivery log of one endpoint, newest first, with every attempt."""
    rows = session.execute(
        sa.select(WebhookDelivery, WebhookEvent.event_type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    attempts: dict[int, list[dict[str, Any]]] = {}
    ids = [d.id for d, _t in rows]
    for a in session.scalars(
        sa.select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.id)
    ):
        attempts.setdefault(a.delivery_id, []).append(
            {
                "attempt": a.attempt,
                "at": a.at.isoformat(),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
        )
    return [
        {
            "delivery_id": d.id,
            "event_id": d.event_id,
            "event_type": event_type,
            "state": d.state,
            "attempts": attempts.get(d.id, []),
            "next_attempt_at": d.next_attempt_at.isoformat() if d.state == "pending" else None,
        }
        for d, event_type in rows
    ]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
