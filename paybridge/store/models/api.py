"""Tables of the payment API: orders created through it, API keys, people with roles,
idempotency keys, and webhook endpoints with their outbox of events and delivery attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paybridge.store.base import Base
from paybridge.store.types import UTCDateTime


class ApiOrder(Base):
    """What an integrator sent with a create-order call, beside the payment request it made."""

    __tablename__ = "api_orders"
    __table_args__ = (Index("ix_api_orders_created", "created_at"),)

    payment_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("payment_requests.id"), primary_key=True
    )
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    metadata_json: Mapped[str] = mapped_column("metadata", Text, default="{}")
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_endpoint_id: Mapped[str | None] = mapped_column(String(40))
    pricing_currency: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A machine credential: only a keyed hash (HMAC-SHA256 with the server key) is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text)  # space separated
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    """A person with one role; their personal token is stored as a keyed hash only."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    """(caller, Idempotency-Key) -> the body it came with and the payment it made."""

    __tablename__ = "api_idempotency_keys"

    api_key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookEndpoint(Base):
    """A receiver URL, the events it wants (empty: all) and its signing secret(s)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text, default="")  # space separated; "" = every event
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookEvent(Base):
    """One event, written in the transaction of the change it reports (the outbox)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_payment", "payment_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32))
    payment_id: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body every delivery sends
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """An event owed to one endpoint: pending until a 2xx, retried with backoff, or failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_endpoints.id"))
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt, with its status code or network error."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(Integer, ForeignKey("webhook_deliveries.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class PaymentNotification(Base):
    """The payment-link e-mail sent to an ERP invoice's customer (one per request)."""

    __tablename__ = "payment_notifications"

    payment_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("payment_requests.id"), primary_key=True
    )
    to_address: Mapped[str] = mapped_column(String(256))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
