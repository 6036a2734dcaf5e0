"""A poll on a new engine (an Airflow task's) compiles no SQL: the watcher's statements are
prepared once per process (``store.prepared``, ``receipt_writer``, ``store.bulk``), not per
engine, and what the poll records is the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from chainenv import ChainEnv, fresh_address
from sqlalchemy.engine import Engine
from sqlalchemy.sql.compiler import Compiled

from paybridge.chain_sync.watcher import ChainWatcher
from paybridge.store.db import create_engine_for, migrate
from paybridge.store.models.chain import ChainBlock, ChainCursor, ChainReceipt

pytestmark = pytest.mark.anvil
USDC = 10**6


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every statement SQLAlchemy compiles while the test runs (each compiler's statement)."""
    seen: list[Any] = []
    original = Compiled.__init__

    def counting(self: Compiled, dialect: Any, statement: Any, **kwargs: Any) -> None:
        seen.append(statement)
        original(self, dialect, statement, **kwargs)

    monkeypatch.setattr(Compiled, "__init__", counting)
    yield seen


def _store(path: Path) -> Engine:
    engine = create_engine_for(f"sqlite:///{path}")
    migrate(engine)
    return engine


def _poll(env: ChainEnv, url: str, watched: str, compilations: list[Any]) -> int:
    """One poll by a new watcher on a new engine; returns how many statements it compiled."""
    engine = create_engine_for(url)
    try:
        watcher = ChainWatcher(
            env.chain_config(),
            env.assets(),
            engine,
            rpc=env.watcher().rpc,
            start_block=0,
            extra_watched=[watched],
            update_payments=False,
        )
        before = len(compilations)
        watcher.poll()
        return len(compilations) - before
    finally:
        engine.dispose()


def _recorded(engine: Engine) -> tuple[list[tuple[Any, ...]], tuple[Any, ...], int]:
    with engine.connect() as conn:
        receipts = conn.execute(
            sa.select(ChainReceipt.amount, ChainReceipt.state, ChainReceipt.direction)
        ).all()
        cursor = conn.execute(
            sa.select(ChainCursor.next_block, ChainCursor.finalized_block, ChainCursor.safe_block)
        ).one()
        blocks = conn.execute(sa.select(sa.func.count()).select_from(ChainBlock)).scalar_one()
    return sorted(map(tuple, receipts)), tuple(cursor), blocks


def test_a_poll_on_a_new_engine_compiles_nothing(
    chain_env: ChainEnv, tmp_path: Path, compilations: list[Any]
) -> None:
    watched = fresh_address("compiled-once")
    chain_env.pay_token(watched, 3 * USDC)
    chain_env.mine(6)
    first, second = _store(tmp_path / "a.db"), _store(tmp_path / "b.db")
    _poll(chain_env, str(first.url), watched, compilations)  # the process's first: prepares
    # a new engine on a new store: the cursor created, receipts, headers, finality
    assert _poll(chain_env, str(second.url), watched, compilations) == 0
    chain_env.pay_token(watched, 4 * USDC)
    chain_env.mine(2)
    _poll(chain_env, str(first.url), watched, compilations)  # prepares a later poll's too
    # a later poll: reorg check against the stored blocks, parent check, cursor read
    compiled = len(compilations)
    assert _poll(chain_env, str(second.url), watched, compilations) == 0, compilations[compiled:]
    recorded = _recorded(second)
    assert recorded == _recorded(first)
    receipts, (next_block, _, safe), blocks = recorded
    assert [(amount, direction) for amount, _, direction in receipts] == [
        (3 * USDC, "in"),
        (4 * USDC, "in"),
    ]
    assert next_block == chain_env.w3.eth.block_number + 1 and safe is not None and blocks > 0
    first.dispose()
    second.dispose()
