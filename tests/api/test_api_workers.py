"""`paybridge api --workers 2`: two real server processes on one socket, the per-key rate
limit counted once for both (a key cannot get twice its budget by landing on both), and each
webhook event delivered once (one delivery loop for the server, not one per worker)."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import subprocess
import time
from pathlib import Path

import httpx
import psutil
from receiver import running_receiver
from test_api_cli import ENV, PAYBRIDGE, run

from paybridge.api.ratelimit import SharedRateLimiter
from paybridge.devchain import free_port

LIMIT = 12


def _connect(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    return connection


def _worker_of(connection: http.client.HTTPConnection, workers: list[psutil.Process]) -> int:
    """The pid of the worker process holding the server end of this connection."""
    local = connection.sock.getsockname()[1]
    for worker in workers:
        if any(c.raddr and c.raddr.port == local for c in worker.net_connections("tcp")):
            return worker.pid
    return 0


def test_two_workers_share_the_rate_limit(tmp_path: Path) -> None:
    run(tmp_path, "init")
    with (tmp_path / "paybridge.toml").open("a") as config:
        config.write(f"\n[api]\nrate_limit_per_minute = {LIMIT}\n")
        config.write("\n[webhooks]\nallow_private_urls = true\n")  # the receiver is local
    made = json.loads(
        run(
            tmp_path, "api-keys", "create", "--name", "shop", "--scope", "payments:read", "--json"
        ).stdout
    )
    writer = json.loads(
        run(
            tmp_path, "api-keys", "create", "--name", "cart", "--scope", "payments:write", "--json"
        ).stdout
    )
    port = free_port()
    server = subprocess.Popen(
        [PAYBRIDGE, "api", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    connections: list[http.client.HTTPConnection] = []
    try:
        deadline = time.monotonic() + 60
        parent = psutil.Process(server.pid)
        while True:  # both workers up and listening
            assert server.poll() is None, server.stderr and server.stderr.read()
            assert time.monotonic() < deadline, "the workers did not start"
            workers = [p for p in parent.children(recursive=True) if "spawn" not in p.name()]
            workers = [p for p in workers if p.net_connections("tcp")]
            if len(workers) == 2:
                break
            time.sleep(0.2)
        served_by: dict[int, list[http.client.HTTPConnection]] = {w.pid: [] for w in workers}
        while min(map(len, served_by.values())) < 2:  # keep-alive connections on each worker
            assert len(connections) < 200, "the kernel never handed a connection to a worker"
            connection = _connect(port)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            connections.append(connection)
            served_by.setdefault(_worker_of(connection, workers), []).append(connection)
        allowed = refused = 0
        per_worker = {pid: 0 for pid in served_by}
        for number in range(3 * LIMIT):  # alternating between the workers
            pid = list(served_by)[number % 2]
            connection = served_by[pid][number % len(served_by[pid])]
            connection.request("GET", "/v1/payments", headers={"X-API-Key": made["key"]})
            response = connection.getresponse()
            response.read()
            assert response.status in (200, 429), response.status
            allowed += response.status == 200
            refused += response.status == 429
            per_worker[pid] += response.status == 200
            if response.status == 429:
                assert int(response.getheader("Retry-After", "0")) >= 1
        # one budget: LIMIT requests (plus what refills, LIMIT/60 per second, during the run)
        assert LIMIT <= allowed <= LIMIT + 2, (allowed, per_worker)
        assert refused == 3 * LIMIT - allowed
        assert all(per_worker.values()), per_worker  # both workers answered within the budget
        _each_event_delivered_once(tmp_path, port, writer["key"])
    finally:
        for connection in connections:
            connection.close()
        server.terminate()
        server.wait(20)
    assert (tmp_path / "paybridge-api.key.ratelimit").exists()
    assert server.stderr is not None
    assert "use --workers 1 with SQLite" in server.stderr.read().decode()


def _each_event_delivered_once(tmp_path: Path, port: int, key: str) -> None:
    with running_receiver() as rx:
        run(tmp_path, "webhooks", "add", "--url", rx.url, "--json")
        body = {"amount": "0.01", "currency": "ETH", "network": "anvil"}
        for number in range(4):  # new connections: the orders land on either worker
            created = httpx.post(
                f"http://127.0.0.1:{port}/v1/payments/create-order",
                json={**body, "metadata": {"order_id": str(number)}},
                headers={"X-API-Key": key},
            )
            assert created.status_code == 201, created.text
        deadline = time.monotonic() + 60
        while len(rx.received) < 4:
            assert time.monotonic() < deadline, f"{len(rx.received)} of 4 events delivered"
            time.sleep(0.2)
        time.sleep(3)  # a second delivery loop would send some of them again by now
        ids = [r.headers["X-Payment-Event-Id"] for r in rx.received]
        assert len(ids) == len(set(ids)) == 4, ids


def _take_many(path: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limiter = SharedRateLimiter(6, Path(path))
    out.put(sum(limiter.take("key_a") == 0 for _ in range(count)))


def test_the_file_limiter_counts_one_budget_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "limits")
    out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_take_many, args=(path, 20, out)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    allowed = sum(out.get(timeout=5) for _ in procs)
    assert 6 <= allowed <= 8  # a burst of 6 for the key, whichever process asked
    other = SharedRateLimiter(6, Path(path))
    assert other.take("key_b") == 0  # another key has its own bucket
    assert any(other.take("key_a") > 0 for _ in range(3))  # key_a's bucket stays near empty
    other.close()


def test_an_unusable_rate_limit_file_is_a_clear_error(tmp_path: Path) -> None:
    run(tmp_path, "init")
    (tmp_path / "paybridge-api.key.ratelimit").mkdir()  # not a file the limiter can map
    refused = run(tmp_path, "api", "--port", str(free_port()), "--workers", "2", code=2)
    assert "rate-limit file" in refused.stderr and "writable" in refused.stderr
