"""``store.db.savepoint``: a block that fails (even on a database error) rolls back only itself
and runs only its own after-rollback callbacks; a block that succeeds keeps its writes and
hands its before-commit callbacks to the transaction's commit, once, in order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from paybridge.store.db import after_rollback, before_commit, savepoint, transaction
from paybridge.store.models import IdempotencyKey

_KEYS = IdempotencyKey.__table__


def _claim(session, key: str) -> None:  # type: ignore[no-untyped-def]
    row = {"api_key_id": "k", "key": key, "body_hash": "h", "payment_id": f"pr_{key}"}
    session.connection().execute(sa.insert(_KEYS), {**row, "created_at": datetime.now(UTC)})


@pytest.mark.parametrize("release", [True, False])
def test_failed_block_rolls_back_itself_only(store: Engine, release: bool) -> None:
    calls: list[str] = []
    with transaction(store) as session:
        if store.dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        with savepoint(session, release=release):
            _claim(session, "a")
            before_commit(session, lambda _s: calls.append("commit a"))
            after_rollback(session, lambda _s: calls.append("rollback a"))
        with pytest.raises(IntegrityError), savepoint(session, release=release):
            _claim(session, "b")
            before_commit(session, lambda _s: calls.append("commit b"))
            after_rollback(session, lambda _s: calls.append("rollback b"))
            _claim(session, "a")  # the key is taken: this block fails on the database
        assert calls == ["rollback b"]
        with savepoint(session, release=release):
            _claim(session, "c")
            before_commit(session, lambda _s: calls.append("commit c"))
    assert calls == ["rollback b", "commit a", "commit c"]
    with transaction(store) as session:
        assert sorted(session.scalars(sa.select(_KEYS.c.key))) == ["a", "c"]
