"""Registering receivers: URL checks (no loopback/private addresses unless allowed), secrets."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.store.models import WebhookEndpoint
from paybridge.webhook_outbox import EVENT_TYPES


class WebhookError(ValueError):
    """A webhook request that cannot be done; the message says what to change."""


def check_url(url: str, *, allow_private: bool) -> None:
    """https to a public address; http and loopback/private/link-local addresses only with
    ``[webhooks] allow_private_urls = true`` (a receiver inside your own network)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookError(f"webhook URL {url!r}: give an absolute https:// URL")
    if parts.username or parts.password:
        raise WebhookError(f"webhook URL {url!r}: credentials in the URL are refused")
    if allow_private:
        return
    if parts.scheme != "https":
        raise WebhookError(f"webhook URL {url!r}: use https (events carry payment data)")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookError(f"webhook URL {url!r}: host does not resolve ({exc})") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise WebhookError(
                f"webhook URL {url!r} resolves to {address}, a loopback/private/reserved "
                "address; set [webhooks] allow_private_urls = true to allow internal receivers"
            )


def add_endpoint(
    session: Session, url: str, events: list[str], *, allow_private: bool, actor: str
) -> tuple[WebhookEndpoint, str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise WebhookError(
            f"unknown event {', '.join(unknown)}; known events: {', '.join(EVENT_TYPES)}"
        )
    check_url(url, allow_private=allow_private)
    secret = "whsec_" + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = WebhookEndpoint(
        id=f"whe_{uuid.uuid4().hex[:20]}",
        url=url,
        events=" ".join(e for e in EVENT_TYPES if e in events),
        secret=secret,
        previous_secret=None,
        previous_secret_until=None,
        created_at=now,
        disabled_at=None,
    )
    session.add(row)
    audit.append(
        session,
        [
            audit.AuditEvent(
                actor=actor,
                entity_type="webhook_endpoint",
                entity_id=row.id,
                action="create",
                after={"url": url, "events": row.events or "*"},
                reason="webhooks add",
            )
        ],
        at=now,
    )
    return row, secret


def rotate_secret(
    session: Session, endpoint_id: str, *, overlap: timedelta, actor: str
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the old one also signs (a second v1) until the overlap ends."""
    row = get_endpoint(session, endpoint_id)
    now = datetime.now(UTC)
    row.previous_secret, row.previous_secret_until = row.secret, now + overlap
    row.secret = "whsec_" + secrets.token_urlsafe(32)
    audit.append(
        session,
        [
            audit.AuditEvent(
                actor=actor,
                entity_type="webhook_endpoint",
                entity_id=row.id,
                action="rotate-secret",
                after={"previous_valid_until": row.previous_secret_until.isoformat()},
                reason="webhooks rotate-secret",
            )
        ],
        at=now,
    )
    return row, row.secret


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    keep_old = endpoint.previous_secret and (endpoint.previous_secret_until or now) > now
    return [endpoint.secret, *([endpoint.previous_secret] if keep_old else [])]


def get_endpoint(session: Session, endpoint_id: str) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise WebhookError(f"no webhook endpoint {endpoint_id!r}: see `paybridge webhooks list`")
    return row


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.created_at)))
