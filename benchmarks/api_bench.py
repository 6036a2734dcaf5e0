"""create-order under load on loopback: 32 concurrent connections, SQLite and PostgreSQL;
and webhook deliveries per second to a local receiver.

Target (issue 12): >= 500 requests/s with p99 <= 100 ms on PostgreSQL on the 2-core machine.
PostgreSQL is a throwaway cluster this benchmark starts (``benchmarks/pgcluster.py``), never a
server it finds. The API runs in its own process (uvicorn, one worker); the load comes from an
asyncio httpx client here holding 32 keep-alive connections. A floor peer
(``benchmarks/api_floor.py``: a Starlette endpoint doing one INSERT on the same database, same
uvicorn and engine settings) is loaded in the same run, alternating with the API, so
``vs_floor`` says how close create-order comes to what this machine allows at that moment.
Figures are medians of ``PAYBRIDGE_BENCH_API_REPEATS`` runs (default 3) of
``PAYBRIDGE_BENCH_API_REQUESTS`` requests each (default 1000), with the load average around
each store's runs. ``PAYBRIDGE_BENCH_API_BASELINE=<git ref>`` adds that version of the API as
a third peer (before/after in one run).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
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


def _engine(url: str) -> sa.Engine:
    """The engine both servers use: the API's own for SQLite, a 40-connection pool for
    PostgreSQL (more than the 32 clients, so nobody waits for a connection)."""
    from paybridge.store.db import create_engine_for

    if url.startswith("postgresql"):
        return sa.create_engine(url, pool_size=40, max_overflow=0, pool_pre_ping=False)
    return create_engine_for(url)


def _serve(kind: str, url: str, port: int) -> None:
    """A server process: the API (with a practically unlimited key budget) or the floor peer."""
    import uvicorn

    engine = _engine(url)
    if kind == "floor":
        from benchmarks.api_floor import floor_app

        app = floor_app(engine)
    else:
        from paybridge.api.app import create_app
        from paybridge.config import ApiConfig, load_config

        config = load_config(None)
        config = config.model_copy(update={"api": ApiConfig(rate_limit_per_minute=10**9)})
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


def _start(
    kind: str, url: str, env: dict[str, str], code: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A server process on a free port; ``code``: a checkout whose paybridge it runs."""
    import httpx

    from paybridge.devchain import free_port

    port = free_port()
    if code is not None:
        from benchmarks.procs import source_paths

        env = {**env, "PYTHONPATH": os.pathsep.join(source_paths(code))}
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.api_bench", "serve", kind, url, str(port)],
        env=env,
        cwd=code,
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz")
            return server, f"http://127.0.0.1:{port}"
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"the {kind} server did not start") from None
            time.sleep(0.2)


def _measured(server: subprocess.Popen[bytes], base: str, key: str, total: int) -> dict[str, Any]:
    """One load run, with the server's CPU time per request: on a machine this busy the
    wall-clock rate mostly says how much CPU the server got, its CPU per request what it needs."""
    import psutil

    process = psutil.Process(server.pid)
    before = sum(process.cpu_times()[:2])
    result = asyncio.run(_load(base, key, total))
    used = sum(process.cpu_times()[:2]) - before
    result["server_cpu_ms_per_request"] = round(used * 1000 / total, 2)
    return result


#: what a baseline checkout needs to serve the API (its packages and the simulators)
SOURCE_FOLDERS = ("paybridge", "connectors", "reconciliation", "plugins", "simulators")


def _baseline_code(ref: str, into: Path) -> Path:
    """PayBridge as of git ``ref`` (e.g. the commit before a change) with these benchmarks, for
    a before/after peer in the same run. Same database schema required (no new migration)."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", ref, *SOURCE_FOLDERS],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    shutil.copytree(root / "benchmarks", into / "benchmarks")
    return into


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over the repeats (each run's figures are kept alongside)."""
    keys = ("requests_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
    out: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 1) for k in keys}
    out["errors"] = sum(r["errors"] for r in runs)
    out["runs"] = runs
    return out


def _one_store(url: str, total: int, repeats: int) -> dict[str, Any]:
    from paybridge.access.api_keys import create_api_key
    from paybridge.audit.keys import KEY_FILE_ENV, KeyRing, use_ring, write_ring
    from paybridge.store.db import create_engine_for, migrate, transaction

    engine = create_engine_for(url)
    migrate(engine)
    ring = Path(tempfile.mkdtemp()) / "audit.key"
    keys = KeyRing.generate("benchmark")
    write_ring(ring, keys)
    use_ring(keys)  # this process's entries (the key's creation) in the servers' chain
    with transaction(engine) as session:
        _row, key = create_api_key(
            session, HASH_KEY, name="bench", scopes=["payments:write"], actor="bench"
        )
    env = {**os.environ, KEY_FILE_ENV: str(ring)}
    load_before = [round(x, 2) for x in os.getloadavg()]
    servers = {"api": _start("api", url, env), "floor": _start("floor", url, env)}
    baseline_ref = os.environ.get("PAYBRIDGE_BENCH_API_BASELINE")
    if baseline_ref:
        code = _baseline_code(baseline_ref, Path(tempfile.mkdtemp(prefix="pb-baseline-")))
        servers["baseline"] = _start("api", url, env, code)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    try:
        for _name, (_server, base) in servers.items():
            asyncio.run(_load(base, key, min(100, total)))  # warm-up
        for _ in range(repeats):  # alternating, so all see the same machine
            for name, (server, base) in servers.items():
                runs[name].append(_measured(server, base, key, total))
    finally:
        for server, _base in servers.values():
            server.terminate()
            server.wait(20)
    result = _median_run(runs["api"])
    result["floor_peer"] = _median_run(runs["floor"])
    result["vs_floor"] = round(result["requests_per_s"] / result["floor_peer"]["requests_per_s"], 2)
    result["cpu_per_request_vs_floor"] = round(
        result["server_cpu_ms_per_request"] / result["floor_peer"]["server_cpu_ms_per_request"], 2
    )
    if baseline_ref:
        result["baseline_peer"] = {"git_ref": baseline_ref, **_median_run(runs["baseline"])}
        result["vs_baseline"] = round(
            result["requests_per_s"] / result["baseline_peer"]["requests_per_s"], 2
        )
        result["cpu_per_request_vs_baseline"] = round(
            result["server_cpu_ms_per_request"]
            / result["baseline_peer"]["server_cpu_ms_per_request"],
            2,
        )
    result["load_average_1_5_15min"] = {
        "before": load_before,
        "after": [round(x, 2) for x in os.getloadavg()],
    }
    result["audit_chain_verified"] = _verify_audit(engine, ring)
    result["webhook_deliveries_per_s"] = _deliveries(engine, min(total, 300))
    engine.dispose()
    return result


def _verify_audit(engine: sa.Engine, ring_file: Path) -> bool:
    """The orders' audit entries still form one verifiable chain after the load."""
    from paybridge import audit
    from paybridge.audit.keys import load_file
    from paybridge.store.db import transaction

    with transaction(engine) as session:
        return audit.verify(session, ring=load_file(ring_file)).ok


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
    from benchmarks.pgcluster import PgUnavailable, temporary_cluster

    total = int(os.environ.get("PAYBRIDGE_BENCH_API_REQUESTS", "1000"))
    repeats = int(os.environ.get("PAYBRIDGE_BENCH_API_REPEATS", "3"))
    results: dict[str, Any] = {
        "name": "api",
        "what": f"POST /v1/payments/create-order, {CONCURRENCY} concurrent keep-alive "
        "connections, loopback, one uvicorn worker; floor peer = one INSERT per request",
        "concurrency": CONCURRENCY,
        "requests_per_run": total,
        "repeats": repeats,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = _one_store(f"sqlite:///{Path(tmp) / 'bench.db'}", total, repeats)
    try:
        with temporary_cluster() as url:
            results["postgresql"] = _one_store(url, total, repeats)
            results["postgresql"]["server"] = "throwaway cluster started by this benchmark"
    except PgUnavailable as exc:
        results["postgresql"] = {"skipped": f"PostgreSQL not measured: {exc}"}
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
        _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(json.dumps(run(), indent=2))
