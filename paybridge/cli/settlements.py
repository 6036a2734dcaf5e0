"""`paybridge settlements list | show | requeue`: every settlement in the outbox and why it is
where it is (pending, posting, posted, failed, needs_attention)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from paybridge.cli.context import (
    FAILURE,
    USAGE_ERROR,
    JsonOption,
    actor,
    config,
    console,
    engine,
    fail,
    print_json,
)
from paybridge.domain.settlements import SettlementError
from paybridge.settlement_outbox import requeue
from paybridge.settlement_views import list_settlements, settlement_detail
from paybridge.store.models.outbox import SETTLEMENT_STATUSES

app = typer.Typer(
    help="The settlement outbox: what was posted to the ERP, what was not and why.",
    no_args_is_help=True,
)


@app.callback()
def settlements() -> None:
    """The settlement outbox: what was posted to the ERP, what was not and why."""


@app.command("list")
def list_command(
    state: Annotated[
        str | None,
        typer.Option("--state", help="pending, posting, posted, failed or needs_attention."),
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection", help="Only this ERP connection ('none': settlements without one)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 1000,
    json_output: JsonOption = False,
) -> None:
    """Settlements oldest first, with their state, connection and the reason when not posted."""
    if state is not None and state not in SETTLEMENT_STATUSES:
        fail(f"--state {state!r}: use one of {', '.join(SETTLEMENT_STATUSES)}", code=USAGE_ERROR)
    wanted = "" if connection == "none" else connection
    rows = list_settlements(engine(config()), state=state, connection=wanted, limit=limit)
    if json_output:
        print_json(rows)
        return
    table = Table(
        "settlement", "state", "connection", "invoices", "amount", "reason", title="Settlements"
    )
    table.columns[0].no_wrap = table.columns[1].no_wrap = True
    for row in rows:
        where = row["connection"] or "(none)"
        if row["connection_configured"] is False:
            where += " (not configured)"
        table.add_row(
            row["settlement_id"],
            row["state"],
            where,
            ", ".join(f"{row['erp_system']}/{i}" for i in row["invoices"]),
            f"{row['payment_amount']} {row['currency']}",
            row["reason"] or "-",
        )
    console.print(table if rows else "no settlements match")


@app.command("show")
def show(
    settlement_id: Annotated[str, typer.Argument(help="Settlement id (pb-...).")],
    json_output: JsonOption = False,
) -> None:
    """One settlement: state, reason, the documents to post (journal) and every attempt."""
    view = settlement_detail(engine(config()), settlement_id)
    if view is None:
        fail(f"no settlement {settlement_id!r}", "list them with `paybridge settlements list`")
    if json_output:
        print_json(view)
        return
    for key, value in view.items():
        if key not in ("settlement", "attempt_log"):
            console.print(f"[bold]{key:>22}[/] {value}", highlight=False)
    console.print("[bold]settlement (what is posted to the ERP)[/]")
    print_json(view["settlement"])
    for attempt in view["attempt_log"]:
        console.print(
            f"attempt {attempt['attempt']} by {attempt['worker']} at {attempt['finished_at']}: "
            f"{attempt['outcome']} {attempt['detail'] or ''}",
            highlight=False,
        )


@app.command("requeue")
def requeue_command(
    settlement_id: Annotated[str, typer.Argument(help="Settlement id (pb-...).")],
    reason: Annotated[str, typer.Option("--reason", help="What was fixed (audited).")],
    json_output: JsonOption = False,
) -> None:
    """Post a failed or needs_attention settlement again after fixing the cause (audited)."""
    cfg = config()
    try:
        requeue(
            engine(cfg),
            settlement_id,
            actor=actor(),
            reason=reason,
            fx_rate=cfg.fx_rate,
        )
    except SettlementError as exc:
        fail(str(exc), "see `paybridge settlements show ID`", code=FAILURE)
    if json_output:
        print_json({"settlement_id": settlement_id, "state": "pending"})
    else:
        console.print(f"{settlement_id} is pending again; `paybridge settle` posts it")
