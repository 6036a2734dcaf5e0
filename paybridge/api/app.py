"""The FastAPI application: configuration, store, server key and rate limiter on app.state."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from paybridge_connectors.rates.base import RateSource
from sqlalchemy.engine import Engine

from paybridge.access.server_key import server_key
from paybridge.api import metrics, payments, portal, problems
from paybridge.api.order_writer import OrderWriter
from paybridge.api.ratelimit import RateLimiter, SharedRateLimiter
from paybridge.config import PayBridgeConfig
from paybridge.requests.index_pool import pool_for
from paybridge.store.db import create_engine_for

#: The committed OpenAPI document (a test checks it equals what the API serves).
OPENAPI_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
API_VERSION = "1.0.0"


#: Starlette runs sync endpoints on anyio's default limiter of 40 threads; each may hold a
#: connection while an address-index refill (one at a time, under the pool's lock) needs one
#: more, so the pool may open one more than that (it keeps 10 open when idle).
POOL = 40 + 1


def create_app(
    config: PayBridgeConfig,
    *,
    engine: Engine | None = None,
    rates_for_chain: Callable[[str], RateSource] | None = None,
    hash_key: bytes | None = None,
    deliver_webhooks: bool = False,
    limiter: RateLimiter | SharedRateLimiter | None = None,
) -> FastAPI:
    """``deliver_webhooks``: also drain the webhook outbox in a background thread (what
    `paybridge api` does; `paybridge webhooks deliver --loop` is the standalone worker).
    ``limiter``: the per-key budget; `paybridge api` passes the one its workers share, the
    default counts in this process only."""
    app = FastAPI(
        lifespan=_webhook_worker if deliver_webhooks else None,
        title="PayBridge Payment API",
        version=API_VERSION,
        description=(
            "Crypto payment orders for checkouts, subscriptions and B2B invoices. "
            "Authenticate with `X-API-Key`; errors are RFC 9457 problem details."
        ),
    )
    app.state.config = config
    app.state.engine = engine or create_engine_for(config.database_url, max_connections=POOL)
    app.state.read_engine = read_engine(app.state.engine)
    app.state.server_key = hash_key or server_key(config.api.key_file, create=True)
    app.state.limiter = limiter or RateLimiter(config.api.rate_limit_per_minute)
    app.state.index_pool = pool_for(app.state.engine)
    app.state.order_writer = OrderWriter(app.state.engine, app.state.index_pool)
    app.state.rates_for_chain = rates_for_chain
    app.state.networks = {chain.chain_id: chain.name for chain in config.chains}
    problems.install(app)
    payments.install_body_errors(app)
    app.include_router(payments.router)
    app.include_router(portal.router)
    app.include_router(metrics.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@asynccontextmanager
async def _webhook_worker(app: FastAPI) -> AsyncIterator[None]:
    stop = threading.Event()
    worker = delivery_thread(app.state.engine, app.state.config.webhooks.allow_private_urls, stop)
    try:
        yield
    finally:
        stop.set()
        worker.join(15)


def delivery_thread(engine: Engine, allow_private: bool, stop: threading.Event) -> threading.Thread:
    """A started thread that sends due webhook deliveries every second until ``stop`` is set."""
    from paybridge.webhooks.delivery import deliver_due

    def loop() -> None:
        while not stop.is_set():
            try:
                deliver_due(engine, allow_private=allow_private)
            except Exception:  # logged and retried: a bad round must not stop delivery
                logging.getLogger(__name__).exception("webhook delivery round failed")
            stop.wait(1.0)

    worker = threading.Thread(target=loop, name="webhook-delivery", daemon=True)
    worker.start()
    return worker


def read_engine(engine: Engine) -> Engine:
    """The engine for single-statement reads (the API key lookup): on PostgreSQL in autocommit,
    so the read is one round trip, not BEGIN, SELECT and ROLLBACK. SQLite sends nothing for
    BEGIN (and an in-memory store shares one connection): the engine as it is."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def openapi_text(app: FastAPI) -> str:
    """The OpenAPI document as committed: stable key order, trailing newline."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main() -> None:  # pragma: no cover - `make openapi`
    """Write the committed OpenAPI document from the built-in configuration."""
    from paybridge.config import load_config

    OPENAPI_FILE.parent.mkdir(exist_ok=True)
    app = create_app(load_config(None), engine=_no_store(), hash_key=bytes(32))
    OPENAPI_FILE.write_text(openapi_text(app))


def _no_store() -> Engine:
    return create_engine_for("sqlite://")


if __name__ == "__main__":  # pragma: no cover
    main()
