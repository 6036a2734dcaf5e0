"""Statements prepared once per kind of dialect (``store.prepared``) store and read what Core's
``execute`` of the same statement does, on SQLite and PostgreSQL, are compiled once for all
engines alike, and refuse what they cannot run faithfully."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge.store.db import create_engine_for
from paybridge.store.models.chain import ChainCursor
from paybridge.store.prepared import Prepared, prepared, run

CURSORS = ChainCursor.__table__
AT = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)


def _insert() -> sa.Insert:
    names = ("chain_id", "chain_name", "next_block", "range_size", "updated_at")
    return sa.insert(CURSORS).values({n: sa.bindparam(f"new_{n}") for n in names})


def _move() -> sa.Update:
    """A constant (``halted_reason IS NULL``, ``range_size != 7``) beside named parameters."""
    c = CURSORS.c
    return (
        sa.update(CURSORS)
        .where(c.chain_id == sa.bindparam("chain_id"), c.range_size != 7)
        .values(next_block=sa.bindparam("to"), updated_at=sa.bindparam("at"))
    )


def _next_blocks() -> sa.Select[tuple[int, int]]:
    c = CURSORS.c
    return sa.select(c.chain_id, c.next_block).where(c.next_block >= sa.bindparam("low"))


def _raw(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(map(tuple, conn.exec_driver_sql("select * from chain_cursors").all()))


def test_prepared_statements_store_what_core_stores(store: Engine) -> None:
    values = {"chain_name": "x", "next_block": 5, "range_size": 10, "updated_at": AT}
    with store.begin() as conn:
        run(conn, _insert, new_chain_id=1, **{f"new_{k}": v for k, v in values.items()})
        conn.execute(sa.insert(CURSORS), {"chain_id": 2, **values})
        conn.execute(sa.insert(CURSORS), {"chain_id": 3, **values, "range_size": 7})
    later = datetime(2026, 12, 1, tzinfo=UTC)
    with store.begin() as conn:
        moved = run(conn, _move, chain_id=1, to=9, at=later)
        assert moved.rowcount == 1
        assert run(conn, _move, chain_id=3, to=9, at=later).rowcount == 0  # the constant
        c = CURSORS.c
        conn.execute(
            sa.update(CURSORS).where(c.chain_id == 2).values(next_block=9, updated_at=later)
        )
    one, two, three = _raw(store)
    assert one[1:] == two[1:]  # same stored values (text of the time on SQLite) as Core's
    assert three[2] == 5
    with store.connect() as conn:
        assert sorted(run(conn, _next_blocks, low=6).all()) == [(1, 9), (2, 9)]


def test_one_compilation_for_engines_alike(sqlite_url: str) -> None:
    calls = []

    def build() -> sa.Select[tuple[int, int]]:
        calls.append(1)
        return _next_blocks()

    engines = [create_engine_for(sqlite_url) for _ in range(2)]
    try:
        statements = []
        for engine in engines:
            with engine.connect() as conn:  # a connection sets the dialect's server version
                statements.append(prepared(build, conn.dialect))
        assert statements[0] is statements[1]
        assert engines[0].dialect is not engines[1].dialect
        assert len(calls) == 1
    finally:
        for engine in engines:
            engine.dispose()


def test_refuses_what_it_cannot_run_faithfully(store: Engine) -> None:
    c = CURSORS.c
    with pytest.raises(ValueError, match="result processing"):  # UTCDateTime converts
        Prepared(sa.select(c.updated_at), store.dialect)
    with pytest.raises(ValueError, match="expanding"):
        Prepared(sa.select(c.chain_id).where(c.chain_id.in_([1, 2])), store.dialect)
    with store.connect() as conn:
        with pytest.raises(TypeError, match="expected"):
            run(conn, _next_blocks)  # a parameter missing
        with pytest.raises(TypeError, match="expected"):
            run(conn, _next_blocks, low=1, high=2)  # one that is not there
