"""`paybridge api-keys ...` and `paybridge api` as a user runs them: real processes, a real
SQLite file, the key shown once and hashed at rest, the server on loopback."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from receiver import running_receiver

from paybridge.client import verify_webhook
from paybridge.devchain import free_port

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}


def run(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PAYBRIDGE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=ENV
    )
    assert result.returncode == code, result.stderr
    return result


def test_api_keys_and_the_served_api(tmp_path: Path) -> None:
    run(tmp_path, "init")
    with (tmp_path / "paybridge.toml").open("a") as config:
        config.write("\n[webhooks]\nallow_private_urls = true\n")  # the receiver is local
    made = json.loads(
        run(
            tmp_path,
            "api-keys",
            "create",
            "--name",
            "shop",
            "--scope",
            "payments:write",
            "--scope",
            "payments:read",
            "--json",
        ).stdout
    )
    assert set(made) >= {"id", "key"} and made["key"].startswith("pbk_")
    server_key = tmp_path / "paybridge-api.key"
    assert stat.S_IMODE(server_key.stat().st_mode) == 0o600
    with sqlite3.connect(tmp_path / "paybridge.db") as db:
        stored = db.execute("select key_hash from api_keys").fetchall()
    assert len(stored) == 1 and made["key"] not in stored[0][0]  # a keyed hash, not the key
    listed = json.loads(run(tmp_path, "api-keys", "list", "--json").stdout)
    assert [k["id"] for k in listed] == [made["id"]] and made["key"] not in json.dumps(listed)
    bad = run(tmp_path, "api-keys", "create", "--name", "x", "--scope", "root", code=2)
    assert "payments:write" in bad.stderr

    port = free_port()
    server = subprocess.Popen(
        [PAYBRIDGE, "api", "--port", str(port)],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr
                time.sleep(0.1)
        headers = {"X-API-Key": made["key"]}
        with running_receiver() as rx:
            hook = json.loads(run(tmp_path, "webhooks", "add", "--url", rx.url, "--json").stdout)
            assert hook["id"].startswith("whe_") and hook["secret"].startswith("whsec_")
            body = {"amount": 0.01, "currency": "ETH", "network": "anvil", "webhook_url": rx.url}
            created = httpx.post(f"{base}/v1/payments/create-order", json=body, headers=headers)
            assert created.status_code == 201, created.text
            deadline = time.monotonic() + 60
            while not rx.received:  # `paybridge api` delivers in the background
                assert time.monotonic() < deadline, "no webhook delivered"
                time.sleep(0.2)
            event = verify_webhook(
                rx.received[0].body, rx.received[0].headers["X-Payment-Signature"], hook["secret"]
            )
            assert event["data"]["payment_id"] == created.json()["payment_id"]
            log = json.loads(run(tmp_path, "webhooks", "deliveries", hook["id"], "--json").stdout)
            assert log[0]["state"] == "delivered" and log[0]["attempts"][0]["status_code"] == 200
            run(tmp_path, "webhooks", "redeliver", event["event_id"])
            while len(rx.received) < 2:
                assert time.monotonic() < deadline, "no redelivery"
                time.sleep(0.2)
            assert rx.received[1].headers["X-Payment-Event-Id"] == event["event_id"]
        run(tmp_path, "webhooks", "redeliver", "evt_nope", code=1)
        # the default config has no mainnet xpub: refused, never an address nobody controls
        seed = {**body, "network": "MAINNET"}
        refused = httpx.post(f"{base}/v1/payments/create-order", json=seed, headers=headers)
        assert refused.status_code == 503 and "xpub" in refused.json()["detail"]
        run(tmp_path, "api-keys", "revoke", made["id"])
        after = httpx.get(f"{base}/v1/payments", headers=headers)
        assert after.status_code == 401
    finally:
        server.terminate()
        server.wait(10)
    run(tmp_path, "api-keys", "revoke", "key_nope", code=1)
    assert os.path.exists(tmp_path / "paybridge.db")
