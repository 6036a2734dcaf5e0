"""create-order under load on loopback: 32 concurrent connections, SQLite and PostgreSQL;
and webhook deliveries per second to a local receiver.

Target (issue 12): >= 500 requests/s with p99 <= 100 ms on PostgreSQL on the 2-core machine.
PostgreSQL is a throwaway cluster this benchmark starts (``benchmarks/pgcluster.py``), never a
server it finds. The API is served as an operator serves it, ``paybridge api --workers N``
(its own processes, its own engine and pool, the shared per-key limiter), once with 1 worker
and once with ``PAYBRIDGE_BENCH_API_WORKERS`` (default 2). The load comes from ``wrk`` (C,
one thread, ``benchmarks/api_wrk.lua``: a fresh Idempotency-Key and order_id per request,
non-201 answers counted as errors), which needs far less CPU per request than a Python client
would take from the same 2 cores. A floor peer (``benchmarks/api_floor.py``: a Starlette
endpoint doing one INSERT on the same database, under uvicorn with as many workers) is loaded
in the same run, alternating with the API, so ``vs_floor`` says how close create-order comes
to what this machine allows at that moment. Figures are medians of
``PAYBRIDGE_BENCH_API_REPEATS`` runs (default 3) of ``PAYBRIDGE_BENCH_API_SECONDS`` seconds
each (default 10; wrk runs for a duration, not a request count), with the load average around
each store's runs, and the server's CPU time per request (all its processes) beside the
wall-clock rate. ``PAYBRIDGE_BENCH_API_BASELINE=
<git ref>`` adds that version of the API (one in-process worker) as a before/after peer.
"""

from __future__ import annotations

import contextlib
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
WRK_THREADS = 1
HASH_KEY = bytes(range(32))
WRK_SCRIPT = Path(__file__).with_name("api_wrk.lua")


class WrkMissing(RuntimeError):
    """wrk is not installed: `make bench` installs it (Debian package ``wrk``)."""


def _wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing(
            "the API benchmark needs wrk (the load generator): run `make wrk` "
            "or `apt-get install wrk`"
        )
    return found


def _engine(url: str) -> sa.Engine:
    """The engine of the in-process peers (floor, baseline): a 40-connection pool on
    PostgreSQL (more than the 32 clients, so nobody waits for a connection)."""
    from paybridge.store.db import create_engine_for

    if url.startswith("postgresql"):
        return sa.create_engine(url, pool_size=40, max_overflow=0, pool_pre_ping=False)
    return create_engine_for(url)


def _serve(kind: str, url: str, port: int, workers: int = 1) -> None:
    """A peer's server process: the floor (``workers`` uvicorn workers) or a baseline API."""
    import uvicorn

    if kind == "floor":
        os.environ["PAYBRIDGE_BENCH_FLOOR_URL"] = url
        uvicorn.run(
            "benchmarks.api_floor:app_from_env",
            factory=True,
            workers=workers,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
        return
    from paybridge.api.app import create_app
    from paybridge.config import ApiConfig, load_config

    config = load_config(None)
    config = config.model_copy(update={"api": ApiConfig(rate_limit_per_minute=10**9)})
    app = create_app(config, engine=_engine(url), hash_key=HASH_KEY)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _api_config(url: str, into: Path) -> Path:
    """The paybridge.toml `paybridge api` is started with: this store, the benchmark's server
    key, a budget no run reaches."""
    key_file = into / "paybridge-api.key"
    key_file.write_text(HASH_KEY.hex() + "\n")
    key_file.chmod(0o600)
    config = into / "paybridge.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n\n'
        f'[api]\nkey_file = "{key_file}"\nrate_limit_per_minute = {10**9}\n'
    )
    return config


def _load(base: str, key: str, seconds: float) -> dict[str, Any]:
    """One wrk run of create-order requests for ``seconds`` over 32 keep-alive connections."""
    env = {**os.environ, "BENCH_API_KEY": key, "BENCH_RUN_ID": uuid.uuid4().hex[:8]}
    command = [
        _wrk(),
        f"-t{WRK_THREADS}",
        f"-c{CONCURRENCY}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        base,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    figures = json.loads(line.removeprefix("WRK_JSON "))
    responses = figures["responses"]
    return {
        "requests": responses,
        "errors": figures["non_201"] + figures["socket_errors"],
        "requests_per_s": round(responses / (figures["duration_us"] / 1e6), 1),
        "p50_ms": round(figures["p50_us"] / 1000, 1),
        "p99_ms": round(figures["p99_us"] / 1000, 1),
        "max_ms": round(figures["max_us"] / 1000, 1),
    }


def _start(
    kind: str,
    url: str,
    env: dict[str, str],
    *,
    workers: int = 1,
    config: Path | None = None,
    code: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """A server on a free port: ``api`` is `paybridge api --workers N` with ``config``;
    ``floor`` the floor peer; ``baseline`` the API of the checkout ``code``."""
    import httpx

    from paybridge.devchain import free_port

    port = free_port()
    if code is not None:
        from benchmarks.procs import source_paths

        env = {**env, "PYTHONPATH": os.pathsep.join(source_paths(code))}
    if kind == "api":
        command = [
            *(sys.executable, "-c", "from paybridge.cli.main import app; app()"),
            *("--config", str(config), "api", "--port", str(port)),
            *("--workers", str(workers), "--no-deliver-webhooks"),
        ]
    else:
        serve_kind = "floor" if kind == "floor" else "api"
        command = [sys.executable, "-m", "benchmarks.api_bench", "serve", serve_kind, url]
        command += [str(port), str(workers)]
    server = subprocess.Popen(command, env=env, cwd=code)
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz")
            time.sleep(0.5 if workers > 1 else 0)  # the other workers finish starting
            return server, f"http://127.0.0.1:{port}"
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"the {kind} server did not start") from None
            time.sleep(0.2)


def _cpu_seconds(server: subprocess.Popen[bytes]) -> float:
    """User + system CPU of the server and its worker processes so far."""
    import psutil

    parent = psutil.Process(server.pid)
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(process.cpu_times()[:2])
    return total


def _measured(
    server: subprocess.Popen[bytes], base: str, key: str, seconds: float
) -> dict[str, Any]:
    """One load run, with the server's CPU time per request: on a machine this busy the
    wall-clock rate mostly says how much CPU the server got, its CPU per request what it needs."""
    before = _cpu_seconds(server)
    result = _load(base, key, seconds)
    used = _cpu_seconds(server) - before
    result["server_cpu_ms_per_request"] = round(used * 1000 / result["requests"], 2)
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


def _peers_result(runs: dict[str, list[dict[str, Any]]], baseline_ref: str | None) -> dict:
    """The API's medians with its floor (and baseline) peer of the same worker count."""
    result = _median_run(runs["api"])
    result["floor_peer"] = _median_run(runs["floor"])
    result["vs_floor"] = round(result["requests_per_s"] / result["floor_peer"]["requests_per_s"], 2)
    result["cpu_per_request_vs_floor"] = round(
        result["server_cpu_ms_per_request"] / result["floor_peer"]["server_cpu_ms_per_request"], 2
    )
    if baseline_ref and runs.get("baseline"):
        result["baseline_peer"] = {"git_ref": baseline_ref, **_median_run(runs["baseline"])}
        result["vs_baseline"] = round(
            result["requests_per_s"] / result["baseline_peer"]["requests_per_s"], 2
        )
        result["cpu_per_request_vs_baseline"] = round(
            result["server_cpu_ms_per_request"]
            / result["baseline_peer"]["server_cpu_ms_per_request"],
            2,
        )
    return result


def _one_store(url: str, seconds: int, repeats: int, workers: int) -> dict[str, Any]:
    """Each worker count in turn (1, then ``workers``): the API and the floor with that many
    processes, alternating runs; the top-level figures are those of ``workers``."""
    from paybridge.access.api_keys import create_api_key
    from paybridge.audit.keys import KEY_FILE_ENV, KeyRing, use_ring, write_ring
    from paybridge.store.db import create_engine_for, migrate, transaction

    engine = create_engine_for(url)
    migrate(engine)
    home = Path(tempfile.mkdtemp(prefix="pb-bench-api-"))
    ring = home / "audit.key"
    keys = KeyRing.generate("benchmark")
    write_ring(ring, keys)
    use_ring(keys)  # this process's entries (the key's creation) in the servers' chain
    with transaction(engine) as session:
        _row, key = create_api_key(
            session, HASH_KEY, name="bench", scopes=["payments:write"], actor="bench"
        )
    config = _api_config(url, home)
    env = {**os.environ, KEY_FILE_ENV: str(ring)}
    baseline_ref = os.environ.get("PAYBRIDGE_BENCH_API_BASELINE")
    load_before = [round(x, 2) for x in os.getloadavg()]
    by_workers: dict[str, Any] = {}
    for count in sorted({1, workers}):
        servers = {
            "api": _start("api", url, env, workers=count, config=config),
            "floor": _start("floor", url, env, workers=count),
        }
        if baseline_ref and count == 1:
            code = _baseline_code(baseline_ref, Path(tempfile.mkdtemp(prefix="pb-baseline-")))
            servers["baseline"] = _start("baseline", url, env, code=code)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        try:
            for _server, base in servers.values():
                _load(base, key, 2)  # warm-up: pools, caches, every worker
            for _ in range(repeats):  # alternating, so all see the same machine
                for name, (server, base) in servers.items():
                    runs[name].append(_measured(server, base, key, seconds))
        finally:
            for server, _base in servers.values():
                server.terminate()
                server.wait(30)
        by_workers[str(count)] = _peers_result(runs, baseline_ref)
    result = {"workers": workers, **by_workers[str(workers)], "by_workers": by_workers}
    result["load_average_1_5_15min"] = {
        "before": load_before,
        "after": [round(x, 2) for x in os.getloadavg()],
    }
    result["audit_chain_verified"] = _verify_audit(engine, ring)
    result["webhook_deliveries_per_s"] = _deliveries(engine, 300)
    engine.dispose()
    shutil.rmtree(home, ignore_errors=True)
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

    seconds = int(os.environ.get("PAYBRIDGE_BENCH_API_SECONDS", "10"))
    repeats = int(os.environ.get("PAYBRIDGE_BENCH_API_REPEATS", "3"))
    workers = int(os.environ.get("PAYBRIDGE_BENCH_API_WORKERS", "2"))
    _wrk()  # before any server starts: a clear message when the load generator is missing
    results: dict[str, Any] = {
        "name": "api",
        "what": f"POST /v1/payments/create-order, {CONCURRENCY} concurrent keep-alive "
        f"connections from wrk ({WRK_THREADS} thread), loopback, `paybridge api --workers "
        f"{workers}` (by_workers: 1 and {workers}); floor peer = one INSERT per request, "
        "same worker count",
        "load_generator": "wrk",
        "concurrency": CONCURRENCY,
        "seconds_per_run": seconds,
        "repeats": repeats,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = _one_store(
            f"sqlite:///{Path(tmp) / 'bench.db'}", seconds, repeats, workers
        )
    try:
        with temporary_cluster() as url:
            results["postgresql"] = _one_store(url, seconds, repeats, workers)
            results["postgresql"]["server"] = "throwaway cluster started by this benchmark"
    except PgUnavailable as exc:
        results["postgresql"] = {"skipped": f"PostgreSQL not measured: {exc}"}
    pg_result = results.get("postgresql", {})
    results["target"] = {
        "requests_per_s": TARGET_RPS,
        "p99_ms": TARGET_P99_MS,
        "store": "postgresql",
        "judged_on": f"paybridge api --workers {workers}",
    }
    results["meets_target"] = bool(
        pg_result.get("requests_per_s", 0) >= TARGET_RPS
        and pg_result.get("p99_ms", 1e9) <= TARGET_P99_MS
    )
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        print(json.dumps(run(), indent=2))
