"""create-order under load on loopback: 32 concurrent connections, SQLite and PostgreSQL;
and webhook deliveries per second to a local receiver.

Target (issue 12): >= 500 requests/s with p99 <= 100 ms on PostgreSQL on the 2-core machine.
The server runs in its own process (uvicorn, one worker); the load comes from an asyncio
httpx client here. Size: ``PAYBRIDGE_BENCH_API_REQUESTS`` (default 1000 per store; shared
machines run it reduced). PostgreSQL is ``$PAYBRIDGE_TEST_POSTGRES_URL`` (skipped if absent).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

TARGET_RPS = 500
TARGET_P99_MS = 100
CONCURRENCY = 32
HASH_KEY = bytes(range(32))


def _serve(url: str, port: int) -> None:
    """The server process: the API over ``url`` with a practically unlimited key budget."""
    import uvicorn

    from paybridge.api.app import create_app
    from paybridge.config import ApiConfig, load_config

    config = load_config(None)
    config = config.model_copy(update={"api": ApiConfig(rate_limit_per_minute=10**9)})
    from paybridge.store.db import create_engine_for

    engine = create_engine_for(url)
    if url.startswith("postgresql"):
        engine = sa.create_engine(url, pool_size=40, max_overflow=0, pool_pre_ping=False)
    app = create_app(config, engine=engine, hash_key=HASH_KEY)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _load(base: str, key: str, total: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    run_id = uuid.uuid4().hex[:8]  # fresh Idempotency-Keys: every request creates an order
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(total):
        queue.put_nowait(number)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                number = queue.get_nowait()
                body = {
                    "amount": "0.05",
                    "currency": "ETH",
                    "network": "anvil",
                    "metadata": {"order_id": str(number)},
                }
                began = time.perf_counter()
                response = await client.post(
                    "/v1/payments/create-order",
                    json=body,
                    headers={"X-API-Key": key, "Idempotency-Key": f"bench-{run_id}-{number}"},
                )
                latencies.append(time.perf_counter() - began)
                errors += response.status_code != 201

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": total,
        "errors": errors,
        "requests_per_s": round(total / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
    }


def _one_store(url: str, total: int) -> dict[str, Any]:
    from paybridge.access.api_keys import create_api_key
    from paybridge.devchain import free_port
    from paybridge.store.db import create_engine_for, migrate, transaction

    engine = create_engine_for(url)
    migrate(engine)
    with transaction(engine) as session:
        _row, key = create_api_key(
            session, HASH_KEY, name="bench", scopes=["payments:write"], actor="bench"
        )
    from paybridge.audit.keys import KEY_FILE_ENV, KeyRing, write_ring

    port = free_port()
    ring = Path(tempfile.mkdtemp()) / "audit.key"
    write_ring(ring, KeyRing.generate("benchmark"))
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.api_bench", "serve", url, str(port)],
        env={**os.environ, KEY_FILE_ENV: str(ring)},
    )
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.2)
        asyncio.run(_load(f"http://127.0.0.1:{port}", key, min(50, total)))  # warm-up
        result = asyncio.run(_load(f"http://127.0.0.1:{port}", key, total))
    finally:
        server.terminate()
        server.wait(20)
    result["webhook_deliveries_per_s"] = _deliveries(engine, min(total, 300))
    engine.dispose()
    return result


def _deliveries(engine: sa.Engine, count: int) -> float:
    """Events written as the outbox writes them, then drained to a loopback receiver."""
    from datetime import UTC, datetime

    from paybridge.store.db import transaction
    from paybridge.webhook_outbox import write_event
    from paybridge.webhooks.delivery import deliver_due
    from paybridge.webhooks.endpoints import add_endpoint

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    try:
        with transaction(engine) as session:
            add_endpoint(session, url, [], allow_private=True, actor="bench")
            for number in range(count):
                write_event(session, "payment.created", None, {"n": number}, datetime.now(UTC))
        began = time.perf_counter()
        delivered = 0
        while True:
            done = len(deliver_due(engine, allow_private=True).delivered)
            delivered += done
            if not done:
                break
        return round(delivered / (time.perf_counter() - began), 1)
    finally:
        receiver.shutdown()
        receiver.server_close()


def run() -> dict[str, Any]:
    total = int(os.environ.get("PAYBRIDGE_BENCH_API_REQUESTS", "1000"))
    results: dict[str, Any] = {
        "name": "api",
        "what": f"POST /v1/payments/create-order, {CONCURRENCY} concurrent connections, loopback",
        "concurrency": CONCURRENCY,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = _one_store(f"sqlite:///{Path(tmp) / 'bench.db'}", total)
    pg = os.environ.get(
        "PAYBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
    except Exception as exc:  # no PostgreSQL here
        results["postgresql"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    else:
        try:
            results["postgresql"] = _one_store(f"{pg}?options=-csearch_path%3D{schema}", total)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    pg_result = results.get("postgresql", {})
    results["target"] = {
        "requests_per_s": TARGET_RPS,
        "p99_ms": TARGET_P99_MS,
        "store": "postgresql",
    }
    results["meets_target"] = bool(
        pg_result.get("requests_per_s", 0) >= TARGET_RPS
        and pg_result.get("p99_ms", 1e9) <= TARGET_P99_MS
    )
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        print(json.dumps(run(), indent=2))
