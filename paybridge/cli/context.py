"""What every CLI command needs: config, store, consistent output and error handling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console
from sqlalchemy.engine import Engine

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


state = State()


def fail(message: str, hint: str | None = None, code: int = FAILURE) -> NoReturn:
    errors.print(f"[bold red]Error:[/] {message}", highlight=False)
    if hint:
        errors.print(f"[yellow]Next:[/] {hint}", highlight=False)
    raise typer.Exit(code)


def config() -> PayBridgeConfig:
    try:
        cfg = load_config(state.config_path)
        use_key_file(cfg.audit.key_file)  # read only when an audit entry is written or checked
        return cfg
    except PrivateKeyMaterialError as exc:
        fail(str(exc), code=USAGE_ERROR)
    except ConfigError as exc:
        fail(str(exc), "fix the file, or run `paybridge init` to write a fresh one")


def engine(cfg: PayBridgeConfig, *, require_schema: bool = True) -> Engine:
    eng = create_engine_for(cfg.database_url)
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
