"""What every CLI command needs: config, store, consistent output and error handling."""

from __future__ import annotations

import getpass
import json
import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import Engine

from paybridge.access.users import Person
from paybridge.audit.keys import use_key_file
from paybridge.config import ConfigError, PayBridgeConfig, load_config
from paybridge.secrets_guard import PrivateKeyMaterialError
from paybridge.store.db import create_engine_for

USAGE_ERROR = 2
FAILURE = 1

console = Console()
errors = Console(stderr=True)


class State:
    config_path: str | None = None
    #: the authenticated user (None: a store without users, or a command that needs none)
    user: Person | None = None


state = State()

#: the ``--json`` flag of commands that print data
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


#: Invisible characters that reorder text (Trojan Source); shown as escapes like controls.
_BIDI_CONTROLS = frozenset(
    chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
)


def shown(value: object, *, keep_newlines: bool = False) -> str:
    """External text (ERP data, file contents, paths, error messages quoting them) as plain
    text for a rich console: markup such as ``[link=...]`` is escaped, and control, line
    separator, bidi and lone surrogate (undecodable file name) characters are written as
    escapes (``\\x1b``) instead of reaching the terminal."""
    out = []
    for char in str(value):
        if keep_newlines and char == "\n":
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI_CONTROLS:
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return escape("".join(out))


def fail(message: str, hint: str | None = None, code: int = FAILURE) -> NoReturn:
    """Print the error (and the next step) as plain text and exit with ``code``."""
    errors.print(f"[bold red]Error:[/] {shown(message, keep_newlines=True)}", highlight=False)
    if hint:
        errors.print(f"[yellow]Next:[/] {shown(hint, keep_newlines=True)}", highlight=False)
    raise typer.Exit(code)


def private_umask() -> None:
    """Files the CLI creates (config, SQLite store, reports, exports, QR codes) hold
    configuration or business data: readable by their owner only (0600, directories 0700)."""
    current = os.umask(0o077)
    os.umask(current | 0o077)


def actor() -> str:
    """Who the audit log names: the authenticated user, else (a store without users) the OS
    user, as before users existed."""
    return state.user.actor if state.user else f"cli:{getpass.getuser()}"


def config() -> PayBridgeConfig:
    try:
        cfg = load_config(state.config_path)
        use_key_file(cfg.audit.key_file)  # read only when an audit entry is written or checked
        return cfg
    except PrivateKeyMaterialError as exc:
        fail(str(exc), code=USAGE_ERROR)
    except ConfigError as exc:  # a configuration error is a usage error: exit 2
        fail(
            str(exc),
            "fix the file, or run `paybridge init` to write a fresh one",
            code=USAGE_ERROR,
        )


def engine(
    cfg: PayBridgeConfig, *, require_schema: bool = True, max_connections: int | None = None
) -> Engine:
    eng = create_engine_for(cfg.database_url, max_connections=max_connections)
    if require_schema:
        try:
            present = sa.inspect(eng).has_table("alembic_version")
        except sa.exc.OperationalError as exc:
            fail(
                f"cannot open the database {eng.url!r}: {exc.orig}",
                "check PAYBRIDGE_DATABASE_URL or [database] url in paybridge.toml",
            )
        if not present:
            fail(
                f"the database {eng.url!r} has no PayBridge schema yet",
                "run `paybridge init` first",
            )
    return eng


@contextmanager
def handled(*known: type[Exception]) -> Iterator[None]:
    """Turn expected domain errors into a clear message and exit code 1."""
    try:
        yield
    except known as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))
