"""`paybridge users add | list | revoke`, and the admin `paybridge init` bootstraps."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.engine import Engine

from paybridge.access.roles import ROLES
from paybridge.access.server_key import ServerKeyError, server_key
from paybridge.access.users import UserError, add_user, has_users, list_users, revoke_user
from paybridge.cli.context import (
    USAGE_ERROR,
    JsonOption,
    actor,
    config,
    console,
    engine,
    fail,
    print_json,
    shown,
)
from paybridge.config import PayBridgeConfig
from paybridge.store.db import transaction

app = typer.Typer(help="People and their roles.", no_args_is_help=True)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The person's name (unique).")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    json_output: JsonOption = False,
) -> None:
    """Add a user; their personal token is printed this once (they set it as PAYBRIDGE_TOKEN)."""
    cfg = config()
    try:
        key = server_key(cfg.api.key_file, create=True)
        with transaction(engine(cfg)) as session:
            row, token = add_user(session, key, name=name, role=role, actor=actor())
    except (UserError, ServerKeyError) as exc:
        fail(str(exc), code=USAGE_ERROR)
    if json_output:
        print_json({"id": row.id, "token": token, "name": row.name, "role": row.role})
    else:
        console.print(f"user {row.id} {shown(name)} ({role}); token, shown only now:")
        console.print(token, highlight=False, markup=False)


@app.command("list")
def list_all(json_output: JsonOption = False) -> None:
    """Users and roles (never tokens)."""
    with transaction(engine(config())) as session:
        rows = [
            {
                "id": u.id,
                "name": u.name,
                "role": u.role,
                "created_at": u.created_at.isoformat(),
                "revoked_at": u.revoked_at.isoformat() if u.revoked_at else None,
            }
            for u in list_users(session)
        ]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "name", "role", "created", "revoked")
    for r in rows:
        table.add_row(r["id"], shown(r["name"]), r["role"], r["created_at"], r["revoked_at"] or "")
    console.print(table)


@app.command("revoke")
def revoke(ident: Annotated[str, typer.Argument(help="User id or name.")]) -> None:
    """Revoke a user's token: their next command is refused."""
    try:
        with transaction(engine(config())) as session:
            row = revoke_user(session, ident, actor=actor())
    except UserError as exc:
        fail(str(exc))
    console.print(f"user {row.id} ({shown(row.name)}) revoked")


def bootstrap_admin(cfg: PayBridgeConfig, eng: Engine) -> None:
    """A fresh store gets one admin (the OS user's name); the token goes to a 0600 file the
    CLI reads when $PAYBRIDGE_TOKEN is unset, so a single-user setup stays one command."""
    with transaction(eng) as session:
        if has_users(session):
            return
        key = server_key(cfg.api.key_file, create=True)
        name = getpass.getuser() or "admin"
        row, token = add_user(session, key, name=name, role="admin", actor="paybridge init")
        path = Path(cfg.api.token_file)
        temp = path.with_name(f".{path.name}.tmp")
        temp.unlink(missing_ok=True)
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(token + "\n")
        os.replace(temp, path)
    console.print(
        f"created admin user {shown(name)} ({row.id}); token in {shown(path)} (mode 0600). "
        "Add people with `paybridge users add NAME --role ROLE`",
        highlight=False,
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="users")
