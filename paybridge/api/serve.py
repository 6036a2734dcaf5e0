"""Serving the API with uvicorn: one process, or ``workers`` processes on one socket.

Python runs one request's code at a time per process (the GIL), so on a machine with several
cores one process leaves the others idle; uvicorn's workers are separate processes that each
build the app. They cannot be handed an app object, only an import string: each worker calls
``app_from_env``, which reads what `paybridge api` resolved (config file, options) from
``$PAYBRIDGE_API_SERVE``; webhooks are then delivered from the supervising process (see
``run``). The per-key budget is the shared, file-backed limiter in every case
(see ``ratelimit``), so it holds across workers and across servers sharing the server key.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from dataclasses import asdict, dataclass, replace

from fastapi import FastAPI

SERVE_ENV = "PAYBRIDGE_API_SERVE"


@dataclass(frozen=True)
class ServeOptions:
    config_path: str | None
    deliver_webhooks: bool = True


def build_app(options: ServeOptions) -> FastAPI:
    """The app `paybridge api` serves: its config, its PostgreSQL pool size, the shared limiter."""
    from paybridge.access.server_key import key_path, server_key
    from paybridge.api.app import POOL, create_app
    from paybridge.api.ratelimit import SharedRateLimiter, limiter_file
    from paybridge.audit.keys import use_key_file
    from paybridge.config import load_config
    from paybridge.store.db import create_engine_for

    cfg = load_config(options.config_path)
    use_key_file(cfg.audit.key_file)
    hash_key = server_key(cfg.api.key_file, create=True)
    limiter = SharedRateLimiter(
        cfg.api.rate_limit_per_minute, limiter_file(key_path(cfg.api.key_file).resolve())
    )
    app = create_app(
        cfg,
        engine=create_engine_for(cfg.database_url, max_connections=POOL),
        hash_key=hash_key,
        deliver_webhooks=options.deliver_webhooks,
        limiter=limiter,
    )
    # the objects built so far (modules, the app, its schemas) live as long as the process:
    # moved out of the collector's reach, a full collection under load no longer walks them
    # all (a pause every order waiting at that moment would add to its latency)
    gc.freeze()
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process."""
    raw = os.environ.get(SERVE_ENV)
    if not raw:
        raise RuntimeError(f"${SERVE_ENV} is not set: start workers with `paybridge api`")
    return build_app(ServeOptions(**json.loads(raw)))


def run(options: ServeOptions, *, host: str, port: int, workers: int = 1) -> None:
    """Serve until interrupted. With several workers, webhooks are delivered by one thread in
    this supervising process, not one per worker: on SQLite two claimers could both read a
    delivery as due before either marks it (PostgreSQL's SKIP LOCKED would keep them apart)."""
    import uvicorn

    if workers == 1:
        uvicorn.run(build_app(options), host=host, port=port, log_level="warning")
        return
    os.environ[SERVE_ENV] = json.dumps(asdict(replace(options, deliver_webhooks=False)))
    stop = threading.Event()
    deliverer = _deliverer(options, stop) if options.deliver_webhooks else None
    try:
        uvicorn.run(
            "paybridge.api.serve:app_from_env",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="warning",
        )
    finally:
        stop.set()
        if deliverer is not None:
            deliverer.join(15)


def _deliverer(options: ServeOptions, stop: threading.Event) -> threading.Thread:
    from paybridge.api.app import delivery_thread
    from paybridge.config import load_config
    from paybridge.store.db import create_engine_for

    cfg = load_config(options.config_path)
    engine = create_engine_for(cfg.database_url)
    return delivery_thread(engine, cfg.webhooks.allow_private_urls, stop)
