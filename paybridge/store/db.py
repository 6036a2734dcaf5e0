"""Engines, sessions and migrations for the SQLite default and PostgreSQL.

SQLite gets WAL and a busy timeout so that several processes (CLI, API, Airflow tasks) can
share one file; PostgreSQL is used as is. Schema changes only ever go through Alembic.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # alembic is imported by migrate() only: CLI start-up stays fast
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
T = TypeVar("T")


def create_engine_for(url: str, *, max_connections: int | None = None) -> Engine:
    """An engine configured for concurrent use of the given database URL. ``max_connections``
    (PostgreSQL): how many connections the pool may open at once, for a server whose threads
    may each hold one while asking for another (SQLAlchemy's default allows 15)."""
    if url.startswith("sqlite"):
        _create_private_sqlite_file(url)
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if max_connections is None:
        return sa.create_engine(url, pool_pre_ping=True)
    kept = min(10, max_connections)
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=kept, max_overflow=max_connections - kept
    )


def _create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite store readable by its owner only (0600); SQLite gives its -wal and
    -shm files the same mode. An existing file is left as it is."""
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except OSError:  # no such directory, read-only...: SQLite reports it when it connects
        return


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@cache
def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema up to date (idempotent; safe to run on every start)."""
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """One factory per engine, kept while the engine lives: each ``sessionmaker`` makes a new
    Session subclass, and SQLAlchemy rebuilds its event dispatch for every new class (a tenth
    of a millisecond per transaction under the API's load, for nothing)."""
    factory = _FACTORIES.get(engine)
    if factory is None:
        factory = _FACTORIES[engine] = sessionmaker(engine, expire_on_commit=False)
    return factory


_FACTORIES: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def before_commit(session: Session, callback: Callable[[Session], None]) -> None:
    """Run ``callback(session)`` once, just before this session's transaction commits.

    Kept in ``session.info`` and run by one listener on the Session class: a listener added
    to a session instance costs SQLAlchemy a per-instance copy of its event dispatch."""
    session.info.setdefault(_BEFORE_COMMIT, []).append(callback)


def after_rollback(session: Session, callback: Callable[[Session], None]) -> None:
    """Run ``callback(session)`` once if this session's transaction rolls back (dropped when
    it commits)."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(callback)


_BEFORE_COMMIT = "paybridge_before_commit"
_AFTER_ROLLBACK = "paybridge_after_rollback"


@event.listens_for(Session, "before_commit")
def _run_before_commit(session: Session) -> None:
    for callback in session.info.pop(_BEFORE_COMMIT, ()):
        callback(session)


@event.listens_for(Session, "after_commit")
def _forget_rollback(session: Session) -> None:
    session.info.pop(_AFTER_ROLLBACK, None)


@event.listens_for(Session, "after_rollback")
def _run_after_rollback(session: Session) -> None:
    session.info.pop(_BEFORE_COMMIT, None)
    for callback in session.info.pop(_AFTER_ROLLBACK, ()):
        callback(session)


@contextmanager
def savepoint(session: Session, *, release: bool = True) -> Iterator[None]:
    """A SAVEPOINT (``begin_nested``) whose commit and rollback hooks stay its own.

    Why: SQLAlchemy runs the before/after-commit listeners when a savepoint is released and
    the after-rollback listeners when one rolls back, and ``before_commit``, ``after_rollback``,
    ``audit.append_at_commit`` and ``store.bulk.insert_at_commit`` keep their state in
    ``session.info``. Without this, releasing an order's savepoint in a batch would append its
    audit entries then (locking the chain's head for the rest of the batch), and rolling one
    back would drop every earlier order's entries and give back their address indexes.

    Inside, ``session.info`` holds only what the block registers. Kept, that joins the
    enclosing transaction's (lists concatenated, a callback both registered kept once, other
    values replaced), to run at its commit or rollback; rolled back, the block's after-rollback
    callbacks run and the rest of what it registered is dropped.

    ``release=False``: a plain ``SAVEPOINT`` statement, never released (the COMMIT releases
    it): one round trip fewer, for a block that leaves no pending ORM object behind (it writes
    with Core; objects it attaches stay in the session even when it rolls back)."""
    outer = dict(session.info)
    session.info.clear()
    try:
        if release:
            nested = session.begin_nested()
            try:
                yield
            except BaseException:
                nested.rollback()  # the listener runs this block's after-rollback callbacks
                raise
            inner = dict(session.info)
            session.info.clear()  # the release's listeners find none of this block's hooks
            try:
                nested.commit()
            except BaseException:
                _rolled_back(session, inner)
                raise
        else:
            connection = session.connection()
            connection.exec_driver_sql(f"SAVEPOINT {_UNRELEASED}")
            try:
                yield
            except BaseException:
                connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_UNRELEASED}")
                _rolled_back(session, dict(session.info))
                raise
            inner = dict(session.info)
        _merge_info(outer, inner)
    finally:
        session.info.clear()
        session.info.update(outer)


_UNRELEASED = "pb_unit"


def _rolled_back(session: Session, inner: dict[Any, Any]) -> None:
    for callback in inner.get(_AFTER_ROLLBACK, ()):
        callback(session)


def _merge_info(outer: dict[Any, Any], inner: dict[Any, Any]) -> None:
    for key, value in inner.items():
        kept = outer.get(key)
        if isinstance(value, list) and isinstance(kept, list):
            outer[key] = kept + [v for v in value if not (callable(v) and v in kept)]
        else:
            outer[key] = value


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def get_for_update(session: Session, model: type[T], key: Any) -> T | None:
    """``session.get`` holding the row until commit, on both stores: PostgreSQL locks it with
    FOR UPDATE; SQLite ignores FOR UPDATE, so a no-op UPDATE of the row first takes the
    database's write lock (a later writer waits for this commit, then reads what it wrote)."""
    if session.get_bind().dialect.name == "sqlite":
        (column,) = sa.inspect(model).primary_key
        session.execute(sa.update(model).where(column == key).values({column: column}))
    return session.get(model, key, with_for_update=True)


def insert_for(dialect: sa.Dialect) -> Callable[..., Any]:
    """The dialect's ``insert`` (SQLite or PostgreSQL): the one with ON CONFLICT."""
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def dialect_insert(session: Session) -> Callable[..., Any]:
    """The session's dialect ``insert`` (`insert_for`)."""
    return insert_for(session.get_bind().dialect)


def dialect_kind(dialect: sa.Dialect) -> tuple[Any, ...]:
    """What decides a compiled statement's text and its parameters' processors: the dialect's
    class, parameter style and server version. Statements compiled once per kind are shared by
    every engine alike (``store.bulk``, ``store.prepared``, the chain receipt writer)."""
    return (type(dialect), dialect.paramstyle, dialect.server_version_info)


def connection_of(db: Session | sa.Connection) -> sa.Connection:
    """The connection a session works on (a connection is its own)."""
    return db.connection() if isinstance(db, Session) else db


def insert_ignore(session: Session, model: type, values: dict[str, Any]) -> sa.Executable:
    """INSERT ... ON CONFLICT DO NOTHING for the session's dialect (SQLite or PostgreSQL)."""
    return dialect_insert(session)(model).values(**values).on_conflict_do_nothing()
