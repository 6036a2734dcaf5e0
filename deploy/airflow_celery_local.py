#!/usr/bin/env python3
"""Airflow with the Celery executor on this machine, without Docker, as docker-compose.yml runs it.

    .venv/bin/python deploy/airflow_celery_local.py up [--home DIR] [--workers 2]

PostgreSQL (metadata DB, Celery results and the PayBridge store, databases created on the
server at ``--postgres``) and Redis (the broker, its own DB number ``--redis-db``) are the
ones already running on 127.0.0.1; the script starts the Airflow services with the *same*
commands as the compose services (``SERVICES``, ``INIT_STEPS``: tests/airflow/test_compose.py
compares them with docker-compose.yml), waits until each is healthy, prints ``READY <api url>``
and runs in the foreground until SIGINT/SIGTERM, then stops every process it started.

What containers give each replica for free is set per process instead: the API/log/health
ports (free loopback ports) and each worker's Celery node name (``--celery-hostname``, a
container has its own host name). ``<home>/services.json`` lists each service's process
group, so a test can kill one worker the way a machine dies.
Secrets: AIRFLOW_FERNET_KEY and AIRFLOW_JWT_SECRET from the environment like compose; when
absent (a local run) they are generated once into ``<home>/secrets.json`` (mode 0600).
The admin user is ``admin``; its generated password is in
``<home>/simple_auth_manager_passwords.json`` (README: "Running Airflow with Celery locally").
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: compose service -> its ``command`` (the image's entrypoint is ``airflow``)
SERVICES: dict[str, list[str]] = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
#: compose ``airflow-init``: what runs once before the services start
INIT_STEPS: list[list[str]] = [["airflow", "db", "migrate"], ["paybridge", "init"]]
#: compose ``deploy.replicas`` of airflow-worker
WORKER_REPLICAS = 2
#: databases on the PostgreSQL server, ``<--db-prefix>_<name>``: Airflow's and PayBridge's store
DATABASES = ("airflow", "store")
STARTUP_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_databases(server_url: str, names: list[str]) -> None:
    """CREATE DATABASE for each missing name on ``server_url`` (a SQLAlchemy-style URL)."""
    import psycopg

    dsn = server_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn + "/postgres", autocommit=True) as conn:
        for name in names:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')


def drop_databases(server_url: str, names: list[str]) -> None:
    import psycopg

    dsn = server_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn + "/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_reachable(port: int) -> str | None:
    """None when Redis answers PING on 127.0.0.1:``port``, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if answer.startswith(b"+PONG") else f"unexpected answer {answer!r}"


def local_secrets(home: Path) -> dict[str, str]:
    """The deployment's secrets: from the environment, else generated once into ``home``."""
    path = home / "secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    fresh = {
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
    }
    chosen = {k: os.environ.get(k) or stored.get(k) or fresh[k] for k in fresh}
    if chosen != stored:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(chosen, f)
    return chosen


def airflow_env(args: argparse.Namespace, home: Path, api_port: int) -> dict[str, str]:
    """compose's ``x-airflow-common`` environment, pointed at this machine's servers."""
    server = args.postgres.rstrip("/")
    airflow_db = f"{server}/{args.db_prefix}_airflow"
    keys = local_secrets(home)
    (home / "paybridge").mkdir(exist_ok=True)
    (home / "audit").mkdir(exist_ok=True, mode=0o700)
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
            home / "simple_auth_manager_passwords.json"
        ),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
        # psycopg 3 is sync and async: Airflow's default async driver (asyncpg) is not installed
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_db,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{airflow_db}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}",
        "AIRFLOW__CORE__FERNET_KEY": keys["AIRFLOW_FERNET_KEY"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["AIRFLOW_JWT_SECRET"],
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "PAYBRIDGE_DATABASE_URL": f"{server}/{args.db_prefix}_store",
        "PAYBRIDGE_CONFIG": os.environ.get(
            "PAYBRIDGE_CONFIG", str(home / "paybridge" / "paybridge.toml")
        ),
        "PAYBRIDGE_AUDIT_KEY_FILE": str(home / "audit" / "paybridge-audit.key"),
        "PAYBRIDGE_ALERT_EMAILS": os.environ.get("PAYBRIDGE_ALERT_EMAILS", ""),
    }


class Deployment:
    """The started processes, each in its own process group (a container's worth)."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str], extra_env: dict[str, str]) -> None:
        log = open(self.home / "logs" / f"{name}.log", "ab")  # noqa: SIM115 (lives with the proc)
        self.procs[name] = subprocess.Popen(
            [str(BIN / "airflow"), *command],
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.home,
        )
        self.write_state()

    def write_state(self) -> None:
        state = {
            "api_url": f"http://127.0.0.1:{self.env['AIRFLOW__API__PORT']}",
            "services": {name: proc.pid for name, proc in self.procs.items()},
        }
        (self.home / "services.json").write_text(json.dumps(state, indent=2))

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM every process group, SIGKILL what is left after ``grace_s``."""
        for proc in self.procs.values():
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            _signal_group(proc.pid, signal.SIGKILL)  # also children that outlived their leader
            proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _http_json(url: str) -> object | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def wait_healthy(deployment: Deployment, workers: int, deadline: float) -> None:
    """API up, scheduler/triggerer/dag-processor healthy (the API's monitor), workers pinging."""
    from celery import Celery

    env = deployment.env
    api = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
    celery = Celery(broker=env["AIRFLOW__CELERY__BROKER_URL"])
    waiting = "api-server"
    while time.monotonic() < deadline:
        if dead := deployment.dead():
            raise SystemExit(f"{', '.join(dead)} exited during startup: see {deployment.home}/logs")
        health = _http_json(f"{api}/api/v2/monitor/health")
        if isinstance(health, dict):
            unhealthy = [
                part
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                if (health.get(part) or {}).get("status") != "healthy"
            ]
            waiting = ", ".join(unhealthy)
            if not unhealthy:
                replies = celery.control.ping(timeout=2.0)
                if len(replies) >= workers:
                    return
                waiting = f"celery workers ({len(replies)}/{workers} answer)"
        time.sleep(2)
    raise SystemExit(f"not healthy after {STARTUP_TIMEOUT_S} s, waiting for {waiting}")


def up(args: argparse.Namespace) -> int:
    if reason := redis_reachable(args.redis_port):
        raise SystemExit(f"no Redis broker on 127.0.0.1:{args.redis_port} ({reason})")
    home = Path(args.home).resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    api_port = args.api_port or free_port()
    env = airflow_env(args, home, api_port)
    server, databases = args.postgres.rstrip("/"), [f"{args.db_prefix}_{n}" for n in DATABASES]
    create_databases(server, databases)
    deployment = Deployment(home, env)
    ready = stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if not ready:  # still starting: leave the startup wait at once
            raise SystemExit(f"stopped by signal {signum} during startup")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for step in INIT_STEPS:  # compose's airflow-init
            with open(home / "logs" / "airflow-init.log", "ab") as log:
                done = subprocess.run(
                    [str(BIN / step[0]), *step[1:]], env=env, stdout=log, stderr=log, cwd=home
                )
            if done.returncode:
                raise SystemExit(f"{' '.join(step)} failed: see {home}/logs/airflow-init.log")
        for name, command in SERVICES.items():
            if name != "airflow-worker":
                deployment.start(name, command, {})
        for n in range(1, args.workers + 1):  # replicas: their own node name and log port
            deployment.start(
                f"airflow-worker-{n}",
                [*SERVICES["airflow-worker"], "--celery-hostname", f"worker{n}@%h"],
                {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
            )
        wait_healthy(deployment, args.workers, time.monotonic() + STARTUP_TIMEOUT_S)
        ready = True
        print(f"READY http://127.0.0.1:{api_port}", flush=True)
        while not stopping:
            time.sleep(0.5)
    finally:
        deployment.stop()
        if args.drop_databases:
            drop_databases(server, databases)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start everything; stop it all on SIGINT/SIGTERM")
    start.add_argument("--home", default=".airflow-celery", help="AIRFLOW_HOME (logs, state)")
    start.add_argument("--workers", type=int, default=WORKER_REPLICAS)
    start.add_argument("--api-port", type=int, default=0, help="0: a free port")
    start.add_argument(
        "--postgres",
        default=os.environ.get(
            "PAYBRIDGE_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432"
        ),
        help="PostgreSQL server URL without database (CI: postgres@127.0.0.1:5432)",
    )
    start.add_argument("--db-prefix", default="paybridge_celery_local")
    start.add_argument("--redis-port", type=int, default=6379)
    start.add_argument("--redis-db", type=int, default=11, help="a Redis DB of its own")
    start.add_argument("--drop-databases", action="store_true", help="drop both DBs on exit")
    args = parser.parse_args(argv)
    return up(args)


if __name__ == "__main__":
    sys.exit(main())
