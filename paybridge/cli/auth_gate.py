"""The CLI acts as an authenticated user: PAYBRIDGE_TOKEN (or the token file `paybridge init`
wrote for its admin), checked against the store's users and the role table before a command
runs. A store without users (made before users existed) runs as the OS user, as before."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from paybridge.access.roles import PUBLIC, command_roles, may_run
from paybridge.access.server_key import ServerKeyError, server_key
from paybridge.access.users import Person, authenticate_token, has_users
from paybridge.cli.context import USAGE_ERROR, config, fail, state
from paybridge.cli.lazy import ARGS_KEY
from paybridge.store.db import create_engine_for, transaction

TOKEN_ENV = "PAYBRIDGE_TOKEN"
_ARGS = ARGS_KEY  # the root group (paybridge.cli.lazy) keeps the command line there


def command_path(ctx: Any) -> str | None:
    """'exceptions approve' for `paybridge exceptions approve ID`; None for --help."""
    args: list[str] = ctx.meta.get(_ARGS, [])
    if not args or "--help" in args:
        return None
    group: Any = ctx.command
    path: list[str] = []
    for arg in args:
        sub = group.get_command(ctx, arg) if _is_group(group) else None
        if sub is None:
            break
        path.append(arg)
        group = sub
    return " ".join(path) if path and not _is_group(group) else None


def _is_group(command: Any) -> bool:
    """Typer's groups are not click.Group subclasses in every version: ask what they do."""
    return hasattr(command, "get_command")


def authenticate(ctx: Any) -> None:
    """Refuse the command unless the token's user has a role that may run it."""
    path = command_path(ctx)
    if path is None or command_roles(path) is PUBLIC:
        return
    cfg = config()
    engine = create_engine_for(cfg.database_url)
    try:
        if not sa.inspect(engine).has_table("users"):
            return  # no schema yet, or one from before users: the command says what to do
        with transaction(engine) as session:
            if not has_users(session):
                return
            token = _token(cfg.api.token_file)
            try:
                key = server_key(cfg.api.key_file)
            except ServerKeyError as exc:
                fail(str(exc), code=USAGE_ERROR)
            person = authenticate_token(session, key, token)
    except sa.exc.OperationalError:
        return  # the command reports the unreachable store itself
    finally:
        engine.dispose()
    if person is None:
        fail(
            f"the token in ${TOKEN_ENV} is unknown or revoked",
            "ask an admin for a token (`paybridge users add NAME --role ROLE`)",
            code=USAGE_ERROR,
        )
    _check_role(person, path)
    state.user = person


def _check_role(person: Person, path: str) -> None:
    if not may_run(person.role, path):
        allowed = ", ".join(sorted(command_roles(path)))
        fail(
            f"user {person.name} (role {person.role}) may not run `paybridge {path}`; "
            f"roles that may: {allowed}",
            "ask someone with one of those roles, or an admin to change your role",
        )


def _token(token_file: str) -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = Path(token_file)
    if path.is_file():
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            fail(
                f"token file {path} is readable by other users",
                f"run `chmod 600 {path}`",
                code=USAGE_ERROR,
            )
        return path.read_text().strip()
    fail(
        f"this PayBridge store has users: set ${TOKEN_ENV} to your personal token",
        "ask an admin for one (`paybridge users add NAME --role ROLE --json`)",
        code=USAGE_ERROR,
    )
