"""`paybridge api` (serve the payment API) and `paybridge api-keys create | list | revoke`.

FastAPI and uvicorn are imported inside `api` only: the rest of the CLI starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from paybridge.access.api_keys import SCOPES, ApiKeyError, create_api_key, list_api_keys
from paybridge.access.api_keys import revoke_api_key as revoke_key
from paybridge.access.server_key import ServerKeyError, key_path, server_key
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
    state,
)
from paybridge.store.db import transaction

keys_app = typer.Typer(help="API keys for integrators (scoped, revocable).", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    deliver_webhooks: Annotated[
        bool, typer.Option(help="Also send due webhook deliveries (a background thread).")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes (one per core uses them all); the per-key rate limit is "
            "shared by all of them.",
        ),
    ] = 1,
) -> None:
    """Serve the payment API (OpenAPI document at /openapi.json) and deliver webhooks."""
    from paybridge.api.ratelimit import SharedRateLimiter, limiter_file
    from paybridge.api.serve import ServeOptions, run

    cfg = config()
    engine(cfg).dispose()  # the store has PayBridge's schema (else a clear error, exit 1)
    try:
        server_key(cfg.api.key_file, create=True)
    except ServerKeyError as exc:
        fail(str(exc), code=USAGE_ERROR)
    counted = limiter_file(key_path(cfg.api.key_file).resolve())
    try:  # every worker opens it: a clear error here rather than a traceback in each
        SharedRateLimiter(cfg.api.rate_limit_per_minute, counted).close()
    except OSError as exc:
        fail(
            f"cannot open the API rate-limit file {counted}: {exc.strerror}",
            "the directory of the server key ([api] key_file) must be writable by this user",
            code=USAGE_ERROR,
        )
    if workers > 1 and cfg.database_url.startswith("sqlite"):
        typer.echo(
            f"warning: {workers} workers on SQLite write one at a time and wait for each other "
            "(measured: no more orders/s than 1 worker, and a p99 of seconds); use --workers 1 "
            "with SQLite, or PostgreSQL for more than one worker",
            err=True,
        )
    options = ServeOptions(state.config_path, deliver_webhooks=deliver_webhooks)
    run(options, host=host, port=port, workers=workers)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who uses the key (shop, billing job).")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"Repeatable: {', '.join(SCOPES)}.")],
    json_output: JsonOption = False,
) -> None:
    """Create an API key; the key is printed this once and never stored."""
    cfg = config()
    try:
        key = server_key(cfg.api.key_file, create=True)
    except ServerKeyError as exc:
        fail(str(exc), code=USAGE_ERROR)
    try:
        with transaction(engine(cfg)) as session:
            row, secret = create_api_key(session, key, name=name, scopes=scope, actor=actor())
    except ApiKeyError as exc:
        fail(str(exc), code=USAGE_ERROR)
    if json_output:
        print_json({"id": row.id, "key": secret, "scopes": row.scopes.split()})
    else:
        console.print(f"API key {row.id} ({shown(name)}, {row.scopes}):")
        console.print(secret, highlight=False, markup=False)
        console.print("Store it now: it is not shown again.")


@keys_app.command("list")
def list_keys(json_output: JsonOption = False) -> None:
    """API keys (never the keys themselves)."""
    with transaction(engine(config())) as session:
        rows = [
            {
                "id": r.id,
                "name": r.name,
                "scopes": r.scopes.split(),
                "created_by": r.created_by,
                "created_at": r.created_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in list_api_keys(session)
        ]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "name", "scopes", "created", "revoked")
    for r in rows:
        table.add_row(
            r["id"], shown(r["name"]), " ".join(r["scopes"]), r["created_at"], r["revoked_at"] or ""
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (api-keys list).")]) -> None:
    """Revoke an API key: its next request is refused (401)."""
    try:
        with transaction(engine(config())) as session:
            row = revoke_key(session, key_id, actor=actor())
    except ApiKeyError as exc:
        fail(str(exc))
    console.print(f"API key {row.id} revoked")


def register(app: typer.Typer) -> None:
    """Wire `api` and `api-keys` into the main CLI."""
    app.command("api")(serve)
    app.add_typer(keys_app, name="api-keys")
