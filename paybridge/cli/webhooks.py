"""`paybridge webhooks add | list | deliveries | redeliver | rotate-secret | deliver`."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

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
from paybridge.store.db import transaction
from paybridge.webhook_outbox import EVENT_TYPES
from paybridge.webhooks.delivery import deliver_due, deliveries, redeliver
from paybridge.webhooks.endpoints import (
    WebhookError,
    add_endpoint,
    get_endpoint,
    list_endpoints,
    rotate_secret,
)

app = typer.Typer(help="Signed webhooks to your systems.", no_args_is_help=True)


@app.command("add")
def add(
    url: Annotated[str, typer.Option("--url", help="The receiver (https).")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help=f"Repeatable; default every event: {', '.join(EVENT_TYPES)}."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Register a receiver; its signing secret is printed this once."""
    cfg = config()
    try:
        with transaction(engine(cfg)) as session:
            row, secret = add_endpoint(
                session,
                url,
                event or [],
                allow_private=cfg.webhooks.allow_private_urls,
                actor=actor(),
            )
    except WebhookError as exc:
        fail(str(exc), code=USAGE_ERROR)
    if json_output:
        print_json({"id": row.id, "secret": secret, "url": url, "events": row.events.split()})
    else:
        console.print(f"webhook endpoint {row.id} -> {shown(url)}; signing secret (shown once):")
        console.print(secret, highlight=False, markup=False)


@app.command("list")
def list_all(json_output: JsonOption = False) -> None:
    """Registered receivers (never their secrets)."""
    with transaction(engine(config())) as session:
        rows = [
            {
                "id": e.id,
                "url": e.url,
                "events": e.events.split() or ["*"],
                "created_at": e.created_at.isoformat(),
                "disabled": e.disabled_at is not None,
            }
            for e in list_endpoints(session)
        ]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "url", "events", "created")
    for r in rows:
        table.add_row(r["id"], shown(r["url"]), " ".join(r["events"]), r["created_at"])
    console.print(table)


@app.command("deliveries")
def show_deliveries(
    endpoint_id: Annotated[str, typer.Argument(help="Endpoint id (webhooks list).")],
    json_output: JsonOption = False,
) -> None:
    """The delivery log of an endpoint: every attempt with its HTTP status or error."""
    try:
        with transaction(engine(config())) as session:
            get_endpoint(session, endpoint_id)
            rows = deliveries(session, endpoint_id)
    except WebhookError as exc:
        fail(str(exc))
    if json_output:
        print_json(rows)
        return
    table = Table("event", "type", "state", "attempts", "last status / error")
    for r in rows:
        last = r["attempts"][-1] if r["attempts"] else {}
        shown_last = str(last.get("status_code") or "") or shown(last.get("error") or "")
        table.add_row(
            r["event_id"], r["event_type"], r["state"], str(len(r["attempts"])), shown_last
        )
    console.print(table)


@app.command("redeliver")
def redeliver_event(event_id: Annotated[str, typer.Argument(help="The event id.")]) -> None:
    """Queue an event again for every endpoint it went to."""
    try:
        with transaction(engine(config())) as session:
            count = redeliver(session, event_id)
    except WebhookError as exc:
        fail(str(exc))
    console.print(f"event {event_id} queued again for {count} endpoint(s)")


@app.command("rotate-secret")
def rotate(
    endpoint_id: Annotated[str, typer.Argument(help="Endpoint id.")],
    overlap_hours: Annotated[int, typer.Option(min=0, max=720)] = 24,
    json_output: JsonOption = False,
) -> None:
    """New signing secret; the old one keeps signing too (second v1) during the overlap."""
    try:
        with transaction(engine(config())) as session:
            row, secret = rotate_secret(
                session, endpoint_id, overlap=timedelta(hours=overlap_hours), actor=actor()
            )
    except WebhookError as exc:
        fail(str(exc))
    if json_output:
        print_json({"id": row.id, "secret": secret})
    else:
        console.print(secret, highlight=False, markup=False)


@app.command("deliver")
def deliver(
    loop: Annotated[bool, typer.Option("--loop", help="Keep delivering every --every s.")] = False,
    every: Annotated[float, typer.Option(min=0.1)] = 2.0,
    json_output: JsonOption = False,
) -> None:
    """Send the deliveries that are due (once, or continuously with --loop)."""
    cfg = config()
    eng = engine(cfg)
    while True:
        summary = deliver_due(eng, allow_private=cfg.webhooks.allow_private_urls)
        if not loop:
            break
        time.sleep(every)
    counts = {k: len(v) for k, v in vars(summary).items()}
    if json_output:
        print_json(counts)
    else:
        console.print(", ".join(f"{v} {k}" for k, v in counts.items()))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="webhooks")
