"""The API's PostgreSQL pool can always serve one more connection than it has threads: each
thread may hold one while the address-index refill asks for another, so a smaller pool could
leave every thread waiting on the pool (SQLAlchemy's default is 15 against anyio's 40)."""

from __future__ import annotations

import anyio
import sqlalchemy as sa

from paybridge.api.app import POOL
from paybridge.store.db import create_engine_for


async def _threads() -> int:
    return int(anyio.to_thread.current_default_thread_limiter().total_tokens)


def test_pool_covers_every_thread_and_a_refill() -> None:
    engine = create_engine_for("postgresql+psycopg://pb@127.0.0.1:1/never", max_connections=POOL)
    pool = engine.pool
    assert isinstance(pool, sa.pool.QueuePool)
    capacity = pool.size() + pool._max_overflow
    assert capacity >= anyio.run(_threads) + 1
    default = create_engine_for("postgresql+psycopg://pb@127.0.0.1:1/never").pool
    assert isinstance(default, sa.pool.QueuePool)
    assert default.size() + default._max_overflow < capacity
