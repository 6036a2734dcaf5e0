"""People: a name, one role, a personal token (shown once, stored as a keyed hash)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.access.revocation import revoke
from paybridge.access.roles import ROLES
from paybridge.access.server_key import keyed_hash
from paybridge.store.models import User

TOKEN_PREFIX = "pbu_"


class UserError(ValueError):
    """A user request that cannot be done (unknown role, name taken, unknown user)."""


@dataclass(frozen=True)
class Person:
    """The authenticated user a command or request acts as."""

    id: str
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"user:{self.name}"


def add_user(
    session: Session, server_key: bytes, *, name: str, role: str, actor: str
) -> tuple[User, str]:
    """A new user and their token (returned once, never stored)."""
    if role not in ROLES:
        raise UserError(
            f"user {name!r}: unknown role {role!r}; give --role one of {', '.join(ROLES)}"
        )
    if not name.strip() or len(name) > 128:
        raise UserError("a user needs a NAME of 1 to 128 characters")
    if session.scalar(sa.select(User.id).where(User.name == name)) is not None:
        raise UserError(f"a user named {name!r} exists already: pick another name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = User(
        id=f"usr_{uuid.uuid4().hex[:20]}",
        name=name,
        role=role,
        token_hash=keyed_hash(server_key, token),
        created_at=now,
        revoked_at=None,
    )
    session.add(row)
    audit.append(
        session,
        [
            audit.AuditEvent(
                actor=actor,
                entity_type="user",
                entity_id=row.id,
                action="create",
                after={"name": name, "role": role},
                reason="users add",
            )
        ],
        at=now,
    )
    return row, token


def list_users(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.created_at, User.id)))


def revoke_user(session: Session, ident: str, *, actor: str) -> User:
    row = session.scalar(sa.select(User).where(sa.or_(User.id == ident, User.name == ident)))
    if row is None:
        raise UserError(f"no user {ident!r}: see `paybridge users list`")
    revoke(session, row, entity_type="user", actor=actor, reason="users revoke")
    return row


def has_users(session: Session) -> bool:
    return session.scalar(sa.select(User.id).limit(1)) is not None


def authenticate_token(session: Session, server_key: bytes, token: str) -> Person | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(sa.select(User).where(User.token_hash == keyed_hash(server_key, token)))
    if row is None or row.revoked_at is not None:
        return None
    return Person(row.id, row.name, row.role)
