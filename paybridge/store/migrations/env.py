"""Alembic environment: runs on the connection handed over by ``paybridge.store.db.migrate``."""

from __future__ import annotations

from alembic import context

import paybridge.store.models  # noqa: F401  (registers every table on Base.metadata)
from paybridge.store.base import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations through paybridge.store.db.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
