"""Fixtures shared by every test area (each area keeps its own conftest in its folder)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge.audit.keys import KEY_ENV, KEY_FILE_ENV, KeyRing, write_ring
from paybridge.devchain import AnvilNode, running_anvil
from paybridge.store.db import create_engine_for, migrate

POSTGRES_URL_ENV = "PAYBRIDGE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_admin_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


def _postgres_reachable(url: str) -> str | None:
    """None when reachable, else the reason (shown in the skip message)."""
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver/network error means "not here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture(scope="session", autouse=True)
def audit_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every test (and every process it starts with this environment) signs the audit log
    with one key ring kept outside the database, as `paybridge init` sets up for a user."""
    path = tmp_path_factory.mktemp("audit-key") / "paybridge-audit.key"
    write_ring(path, KeyRing.generate("test key ring"))
    saved = {name: os.environ.pop(name, None) for name in (KEY_ENV, KEY_FILE_ENV)}
    os.environ[KEY_FILE_ENV] = str(path)
    yield str(path)
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = _postgres_admin_url()
    reason = _postgres_reachable(url)
    if reason:
        pytest.skip(f"no PostgreSQL reachable at {url} ({reason}); set {POSTGRES_URL_ENV}")
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty schema on the test PostgreSQL, dropped afterwards."""
    schema = f"pb_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in postgres_server_url else "?"
    yield f"{postgres_server_url}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'paybridge.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test on the SQLite default and on PostgreSQL (skipped cleanly if absent)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


def _migrated(url: str) -> Iterator[Engine]:
    engine = create_engine_for(url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    """A migrated PayBridge store, once on SQLite and once on PostgreSQL."""
    yield from _migrated(database_url)


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Engine]:
    yield from _migrated(sqlite_url)


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[Engine]:
    yield from _migrated(postgres_url)


@pytest.fixture
def anvil() -> Iterator[AnvilNode]:
    """A fresh local anvil chain (own free port), stopped after the test."""
    with running_anvil() as node:
        yield node
