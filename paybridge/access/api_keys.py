"""API keys: created with scopes and shown once, stored as a keyed hash, revocable."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.access.revocation import revoke
from paybridge.access.server_key import keyed_hash
from paybridge.store.models import ApiKey

SCOPES = ("payments:write", "payments:read", "reports:read", "metrics:read", "admin")
KEY_PREFIX = "pbk_"


class ApiKeyError(ValueError):
    """An API key request that cannot be done (unknown scope, unknown id)."""


@dataclass(frozen=True)
class Caller:
    """Who an authenticated API request comes from."""

    key_id: str  # the API key's id, or the user's id for a personal token
    name: str
    scopes: frozenset[str]
    is_user: bool = False

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def actor(self) -> str:
        return f"user:{self.name}" if self.is_user else f"api-key:{self.key_id}:{self.name}"


def create_api_key(
    session: Session, server_key: bytes, *, name: str, scopes: list[str], actor: str
) -> tuple[ApiKey, str]:
    """A new key; returns (row, the key itself), the only time the key is visible."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ApiKeyError(
            f"API key {name!r}: unknown or missing scope {', '.join(unknown) or '(none)'}; "
            f"give --scope one or more of {', '.join(SCOPES)}"
        )
    if not name.strip():
        raise ApiKeyError("an API key needs a --name saying who uses it")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = ApiKey(
        id=f"key_{uuid.uuid4().hex[:20]}",
        name=name,
        key_hash=keyed_hash(server_key, secret),
        scopes=" ".join(s for s in SCOPES if s in scopes),
        created_by=actor,
        created_at=now,
        revoked_at=None,
    )
    session.add(row)
    audit.append(
        session,
        [
            audit.AuditEvent(
                actor=actor,
                entity_type="api_key",
                entity_id=row.id,
                action="create",
                after={"name": name, "scopes": row.scopes},
                reason="api-keys create",
            )
        ],
        at=now,
    )
    return row, secret


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(sa.select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_api_key(session: Session, key_id: str, *, actor: str) -> ApiKey:
    row = session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise ApiKeyError(f"no API key {key_id!r}: see `paybridge api-keys list`")
    revoke(session, row, entity_type="api_key", actor=actor, reason="api-keys revoke")
    return row


def authenticate(db: Session | Connection, server_key: bytes, presented: str) -> Caller | None:
    """The caller a presented key belongs to, or None (unknown or revoked).

    One Core SELECT of the three columns needed, on a session or a bare connection: the API
    runs it on every request, where an ORM load costs more than the query."""
    if not presented.startswith(KEY_PREFIX):
        return None
    table = ApiKey.__table__
    row = db.execute(
        sa.select(table.c.id, table.c.name, table.c.scopes).where(
            table.c.key_hash == keyed_hash(server_key, presented), table.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return Caller(row.id, row.name, frozenset(row.scopes.split()))
