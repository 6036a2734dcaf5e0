"""Reconciliation-from-the-store fixtures: a real anvil chain with the test contracts, a
migrated store (SQLite, or both backends through ``database_url``) and the chain helpers of
``tests/chain/chainenv.py`` (payers use anvil accounts >= 5, never deposit addresses)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from recon_store_helpers import make_env
from sqlalchemy.engine import Engine

from paybridge.devchain import AnvilNode
from simulators.netsuite import NetSuiteSimulator


@pytest.fixture
def store(sqlite_store: Engine) -> Engine:
    return sqlite_store


@pytest.fixture(params=["sqlite_store", "postgres_store"])
def any_store(request: pytest.FixtureRequest) -> Engine:
    """Both backends (PostgreSQL skipped cleanly where it is not reachable)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def env(anvil: AnvilNode, store: Engine):  # type: ignore[no-untyped-def]
    return make_env(anvil, store)


@pytest.fixture
def sim() -> Iterator[NetSuiteSimulator]:
    """The NetSuite simulator on loopback (real HTTP, OAuth1)."""
    with NetSuiteSimulator() as simulator:
        yield simulator
