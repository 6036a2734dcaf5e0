"""`paybridge settlements list | show | requeue`: every settlement in the outbox and why it is
where it is (pending, posting, posted, failed, needs_attention)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
    shown,
)
from paybridge.cli.display import (
    LimitOption,
    OffsetOption,
    cell,
    page_notice,
    print_fields,
    print_table,
    say,
    table,
)
from paybridge.domain.amounts import format_fiat
from paybridge.domain.settlements import SettlementError
from paybridge.settlement_outbox import requeue
from paybridge.settlement_views import count_settlements, list_settlements, settlement_detail
from paybridge.store.models.outbox import SETTLEMENT_STATUSES

app = typer.Typer(
    help="The settlement outbox: what was posted to the ERP, what was not and why.",
    no_args_is_help=True,
)


@app.callback()
def settlements() -> None:
    """The settlement outbox: what was posted to the ERP, what was not and why."""


def where_posted(view: dict[str, Any]) -> str:
    """The connection, flagged when the settlement has none or names one never configured."""
    if not view["connection"]:
        return "(no ERP connection)"
    if view["connection_configured"] is False:
        return f"{view['connection']} (UNKNOWN: not configured)"
    return str(view["connection"])


def _with_display(view: dict[str, Any]) -> dict[str, Any]:
    return {
        **view,
        "payment_amount_display": format_fiat(view["payment_amount"], view["currency"]),
        "connection_display": where_posted(view),
    }


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
    limit: LimitOption = 1000,
    offset: OffsetOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Settlements in every state, oldest first, with their connection (flagged when it is
    missing or not configured) and the reason when not posted."""
    if state is not None and state not in SETTLEMENT_STATUSES:
        fail(f"--state {state!r}: use one of {', '.join(SETTLEMENT_STATUSES)}", code=USAGE_ERROR)
    wanted = "" if connection == "none" else connection
    eng = engine(config())
    total = count_settlements(eng, state=state, connection=wanted)
    rows = [
        _with_display(v)
        for v in list_settlements(eng, state=state, connection=wanted, limit=limit, offset=offset)
    ]
    if json_output:
        print_json(rows)
    else:
        grid = table(
            f"{total} settlements",
            "settlement",
            "state / connection",
            "amount",
            "invoices / reason",
            ids=("settlement",),
            keep=("amount",),
        )
        for row in rows:
            grid.add_row(
                shown(row["settlement_id"]),
                cell(row["state"], row["connection_display"]),
                shown(row["payment_amount_display"]),
                cell(", ".join(row["invoices"]), *([row["reason"]] if row["reason"] else [])),
            )
        print_table(grid, "no settlements match")
    page_notice("settlements", len(rows), total, offset, limit)


@app.command("show")
def show(
    settlement_id: Annotated[str, typer.Argument(help="Settlement id (pb-...).")],
    json_output: JsonOption = False,
) -> None:
    """One settlement: state, reason, the documents to post (journal) and every attempt."""
    view = settlement_detail(engine(config()), settlement_id)
    if view is None:
        fail(f"no settlement {settlement_id!r}", "list them with `paybridge settlements list`")
    view = _with_display(view)
    if json_output:
        print_json(view)
        return
    flat = {k: v for k, v in view.items() if k not in ("settlement", "attempt_log", "connection")}
    print_fields(flat, 22)
    console.print("[bold]settlement (what is posted to the ERP)[/]")
    print_json(view["settlement"])
    for attempt in view["attempt_log"]:
        say(
            f"attempt {attempt['attempt']} by {attempt['worker']} at "
            f"{attempt['finished_at']}: {attempt['outcome']} {attempt['detail'] or ''}"
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
