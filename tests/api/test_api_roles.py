"""People and roles: the whole role x CLI-command matrix through the real gate (a store with
users, a token per role), the role x endpoint matrix over HTTP with personal tokens, and the
`paybridge init` bootstrap admin (token file 0600) as a user runs it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from api_server import HASH_KEY, ApiServer

from paybridge.access.roles import COMMANDS, PUBLIC, ROLES, may_run
from paybridge.access.users import add_user
from paybridge.cli import auth_gate
from paybridge.cli.context import state
from paybridge.cli.main import app
from paybridge.config import DATABASE_URL_ENV
from paybridge.store.db import transaction

PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")


def _cli_leaves() -> list[str]:
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    leaves: list[str] = []

    def walk(command, path: list[str]) -> None:  # type: ignore[no-untyped-def]
        if hasattr(command, "get_command"):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name])
        else:
            leaves.append(" ".join(path))

    walk(root, [])
    return leaves


def test_every_command_has_a_rule() -> None:
    missing = [path for path in _cli_leaves() if path not in COMMANDS]
    assert missing == [], f"add these commands to paybridge/access/roles.py: {missing}"


def test_role_by_command_matrix_through_the_gate(
    sqlite_store, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "api.key"
    key_file.write_text(HASH_KEY.hex())
    key_file.chmod(0o600)
    monkeypatch.setenv("PAYBRIDGE_API_KEY_FILE", str(key_file))
    monkeypatch.setenv(DATABASE_URL_ENV, sqlite_url)
    monkeypatch.setattr(state, "config_path", None)
    tokens = {}
    with transaction(sqlite_store) as session:
        for role in ROLES:
            tokens[role] = add_user(session, HASH_KEY, name=role, role=role, actor="t")[1]
    root = typer.main.get_command(app)
    outcomes: dict[tuple[str, str], str] = {}
    for role in ROLES:
        monkeypatch.setenv(auth_gate.TOKEN_ENV, tokens[role])
        for path in _cli_leaves():
            ctx = typer.Context(root)
            ctx.meta[auth_gate._ARGS] = path.split()
            state.user = None
            try:
                auth_gate.authenticate(ctx)
                outcomes[role, path] = "ran" if state.user or COMMANDS[path] is PUBLIC else "?"
            except typer.Exit as exc:
                outcomes[role, path] = f"exit {exc.exit_code}"
    state.user = None
    for (role, path), outcome in outcomes.items():
        expected = "ran" if may_run(role, path) else "exit 1"
        assert outcome == expected, (role, path, outcome)
    # the table's intent, spelled out for the roles of the issue
    assert outcomes["auditor", "requests list"] == "ran"
    assert outcomes["auditor", "requests create"] == "exit 1"
    assert outcomes["finance_ops", "exceptions approve"] == "exit 1"
    assert outcomes["approver", "exceptions propose"] == "exit 1"
    assert outcomes["erp_admin", "erp sync"] == "ran"
    assert outcomes["finance_ops", "users add"] == "exit 1"
    assert all(outcomes["admin", path] == "ran" for path in _cli_leaves())


ENDPOINTS = [
    ("post", "/v1/payments/create-order", "payments:write"),
    ("get", "/v1/payments", "payments:read"),
    ("get", "/v1/payments/{id}", "payments:read"),
    ("post", "/v1/payments/{id}/cancel", "payments:write"),
]
ROLE_MAY = {
    "finance_ops": {"payments:write", "payments:read"},
    "erp_admin": {"payments:read"},
    "approver": {"payments:read"},
    "auditor": {"payments:read"},
    "admin": {"payments:write", "payments:read"},
}


def test_role_by_endpoint_matrix_with_personal_tokens(sqlite_api: ApiServer) -> None:
    with transaction(sqlite_api.engine) as session:
        tokens = {
            role: add_user(session, HASH_KEY, name=role, role=role, actor="t")[1] for role in ROLES
        }
    order = {"amount": "1", "currency": "ETH", "network": "anvil"}
    writer = sqlite_api.key("payments:write")
    for role in ROLES:
        with sqlite_api.client(writer) as http:
            payment_id = http.post("/v1/payments/create-order", json=order).json()["payment_id"]
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        with sqlite_api.client() as http:
            for method, template, scope in ENDPOINTS:
                kwargs = {"json": order} if template.endswith("create-order") else {}
                response = http.request(
                    method, template.format(id=payment_id), headers=headers, **kwargs
                )
                allowed = scope in ROLE_MAY[role]
                assert (response.status_code < 300) == allowed, (role, template, response.text)
                if not allowed:
                    assert response.status_code == 403
    with sqlite_api.client() as http:
        bad = http.get("/v1/payments", headers={"Authorization": "Bearer pbu_nobody"})
        assert bad.status_code == 401


def _run(cwd: Path, *args: str, code: int = 0, token: str | None = None) -> str:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    if token:
        env["PAYBRIDGE_TOKEN"] = token
    result = subprocess.run(
        [PAYBRIDGE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == code, result.stdout + result.stderr
    return result.stdout if code == 0 else result.stderr


def test_init_bootstraps_one_admin_and_users_get_tokens(tmp_path: Path) -> None:
    _run(tmp_path, "init")
    token_file = tmp_path / "paybridge-admin.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    made = json.loads(_run(tmp_path, "users", "add", "ana", "--role", "auditor", "--json"))
    assert set(made) >= {"id", "token"}
    # the auditor reads, and is refused a change (exit 1), naming the roles that may
    _run(tmp_path, "requests", "list", token=made["token"])
    refused = _run(tmp_path, "users", "add", "x", "--role", "admin", code=1, token=made["token"])
    assert "role auditor" in refused
    _run(tmp_path, "users", "add", "y", "--role", "boss", code=2)
    os.chmod(token_file, 0o644)
    assert "chmod 600" in _run(tmp_path, "users", "list", code=2)
    token_file.unlink()
    assert "PAYBRIDGE_TOKEN" in _run(tmp_path, "users", "list", code=2)
    _run(tmp_path, "init")  # the store has users: no second admin, no new token file
    assert not token_file.exists()
