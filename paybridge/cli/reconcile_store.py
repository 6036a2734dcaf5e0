"""`paybridge reconcile`, `paybridge exceptions ...`, `paybridge tieout chain|erp`: the
reconciliation of the store, its exception workflow (maker-checker) and the auditor tie-outs.

Wired by ``reconcile_store.register(app)``, from the root table in paybridge/cli/lazy.py.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from paybridge_reconciliation.config import ReconConfig
from pydantic import ValidationError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from paybridge.cli import display, exceptions_show, problems, tieout_views
from paybridge.cli.context import (
    FAILURE,
    USAGE_ERROR,
    JsonOption,
    config,
    console,
    engine,
    errors,
    fail,
    print_json,
    shown,
    state,
)
from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.domain.settlements import SettlementError

if TYPE_CHECKING:
    from paybridge.recon_runs.run import RunSummary

# paybridge.recon_runs and paybridge_reconciliation.workflow import pandas (and the report
# matplotlib): each command imports them when it runs, so `paybridge --help` and other commands
# start fast.

exceptions_app = typer.Typer(
    help="The reconciliation exceptions queue: list, propose, approve, reject (maker-checker).",
    no_args_is_help=True,
)
tieout_app = typer.Typer(help="Tie-outs for auditors (differences listed).", no_args_is_help=True)

ActorOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Who is acting, on a store without users only (default: the OS user); with "
        "users, the user of $PAYBRIDGE_TOKEN acts and a different name is refused.",
    ),
]


def register(app: typer.Typer) -> None:
    """Wires every command of this module (once, from paybridge/cli/lazy.py)."""
    app.command("reconcile")(reconcile)
    exceptions_app.command("list")(exceptions_show.exceptions_list)
    exceptions_app.command("show")(exceptions_show.exceptions_show)
    app.add_typer(exceptions_app, name="exceptions")
    app.add_typer(tieout_app, name="tieout")


def _actor(value: str | None) -> str:
    """The authenticated user's name (maker-checker compares identities); a store without
    users keeps the old behaviour (a typed name or the OS user)."""
    if state.user is not None:
        if value is not None and value != state.user.name:
            fail(
                f"--as {value!r}: you are authenticated as {state.user.name}; the CLI acts "
                "as the user of $PAYBRIDGE_TOKEN, never as a typed name",
                "drop --as, or run with the other person's own token",
                code=USAGE_ERROR,
            )
        return state.user.name
    return value or getpass.getuser()


def _recon_config(path: Path | None) -> ReconConfig:
    if path is None:
        return ReconConfig()
    try:
        return ReconConfig.from_toml(path)
    except (OSError, ValueError, ValidationError) as exc:
        fail(f"reconciliation rules {path}: {exc}", code=USAGE_ERROR)


def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--as-of {value!r}: expected ISO 8601, e.g. 2026-01-05T10:00:00Z", code=USAGE_ERROR)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def reconcile(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Only receipts up to this time (ISO 8601).")
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Only write the engine's input CSVs to this directory."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write outputs, report.html/pdf/xlsx, manifest here."),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Reconciliation rules (engine TOML config).")
    ] = None,
    actor: ActorOption = None,
    json_output: JsonOption = False,
) -> None:
    """Reconcile requests and receipts in the store; settle what is paid (idempotent).

    Exit 1 when a paid request's settlement cannot be posted to any ERP connection."""
    from paybridge.recon_runs.report import export_inputs, labels_from_config, write_report
    from paybridge.recon_runs.run import reconcile_store

    cfg = config()
    eng = engine(cfg)
    recon_cfg = _recon_config(rules)
    when = _parse_as_of(as_of)
    if export is not None:
        paths = export_inputs(eng, export, when)
        if json_output:
            print_json({name: str(path) for name, path in paths.items()})
        else:
            console.print(
                f"wrote {shown(', '.join(p.name for p in paths.values()))} to {shown(export)}; "
                f"re-perform with `paybridge reconcile-files --requests "
                f"{shown(paths['requests'])} --receipts {shown(paths['receipts'])} --rates "
                f"{shown(paths['rates'])} --out DIR`"
            )
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True, disable=json_output) as progress:
        task = progress.add_task("starting", total=None)
        try:
            summary = reconcile_store(
                eng,
                cfg,
                recon_config=recon_cfg,
                as_of=when,
                actor=_actor(actor),
                step=lambda msg: progress.update(task, description=msg),
            )
            manifest = None
            if report is not None:
                progress.update(task, description="writing the report")
                manifest = write_report(eng, report, recon_cfg, labels_from_config(cfg))
        except (SettlementError, ValueError, OSError) as exc:  # OSError: the pack not written
            fail(str(exc))
    data = summary.as_dict()
    if manifest is not None:
        data["report"] = str(report)
    if json_output:
        print_json(data)
    else:
        _print_run(summary, report)
    if summary.settlements_not_postable:
        if not json_output:
            problems.report(
                f"{len(summary.settlements_not_postable)} settlements cannot be posted to an "
                "ERP (recorded as needs_attention; their requests are completed):",
                ((s["settlement_id"], s["category"]) for s in summary.settlements_not_postable),
                "`paybridge settlements list --state needs_attention` shows each one and why; "
                "record them in the ERP by hand, or sync the invoices from their ERP connection",
            )
        raise typer.Exit(FAILURE)


def _print_run(summary: RunSummary, report: Path | None) -> None:
    table = Table(title=f"reconciliation {summary.run_id} (as of {summary.as_of})")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, value in (
        ("requests", summary.requests),
        ("receipts", summary.receipts),
        ("matches (auto)", summary.matches_auto),
        ("matches (proposed)", summary.matches - summary.matches_auto),
        ("exceptions raised", summary.exceptions),
        ("exceptions open or proposed", summary.exceptions_open),
        ("requests completed", len(summary.completed)),
        ("settlements queued", len(summary.settlements_enqueued)),
        ("settlements not postable", len(summary.settlements_not_postable)),
        ("awaiting finality", len(summary.awaiting_finality)),
    ):
        table.add_row(label, str(value))
    console.print(table)
    if report is not None:
        console.print(f"report written to {shown(report)}")


@exceptions_app.command("propose")
def exceptions_propose(
    exception_id: Annotated[str, typer.Argument(help="EX-... from `paybridge exceptions list`.")],
    action: Annotated[str, typer.Option("--action", help="apply, write-off, credit or refund.")],
    request: Annotated[
        str | None, typer.Option("--request", help="Request to apply the money to.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (a reason code).")] = None,
    amount: Annotated[
        str | None,
        typer.Option(
            "--amount",
            help='"12.5 USDC" (token units and the symbol) or "12500000 base units" '
            "(default: all unresolved).",
        ),
    ] = None,
    refund_address: Annotated[
        str | None, typer.Option("--refund-address", help="Default: the sender.")
    ] = None,
    actor: ActorOption = None,
    json_output: JsonOption = False,
) -> None:
    """Propose a resolution (the maker); someone else must approve it."""
    from paybridge_reconciliation.workflow import WorkflowError

    from paybridge.recon_runs.resolutions import CLI_ACTIONS, propose

    if action not in CLI_ACTIONS:
        fail(f"--action {action!r}: use one of {', '.join(CLI_ACTIONS)}", code=USAGE_ERROR)
    cfg = config()
    units = exceptions_show.amount_for(cfg, exception_id, amount, "--amount")
    try:
        outcome = propose(
            engine(cfg),
            exception_id,
            action,
            _actor(actor),
            amount=units,
            request_id=request or "",
            reason=reason or "",
            refund_address=refund_address or "",
        )
    except WorkflowError as exc:
        asked = "" if units is None else f"--amount {amount!r} is {units} base units; "
        fail(str(exc), f"{asked}`paybridge exceptions show {exception_id}` shows what is open")
    _print_outcome(cfg, outcome.resolution, outcome.exception_status, None, json_output)


def _decide(ident: str, actor: str | None, approve: bool, json_output: bool) -> None:
    from paybridge_reconciliation.workflow import WorkflowError

    from paybridge.recon_runs.export import with_registry_classes
    from paybridge.recon_runs.resolutions import decide

    cfg = config()
    try:
        outcome = decide(
            engine(cfg),
            ident,
            _actor(actor),
            approve=approve,
            recon_config=with_registry_classes(ReconConfig(), cfg),
            fx_rate=cfg.fx_rate,
        )
    except (WorkflowError, SettlementError) as exc:
        fail(str(exc))
    _print_outcome(
        cfg, outcome.resolution, outcome.exception_status, outcome.settlement_id, json_output
    )
    if outcome.settlement_not_postable:
        fail(
            f"the decision is recorded, but settlement {outcome.settlement_id} cannot be posted "
            f"to an ERP: {outcome.settlement_not_postable}",
            "`paybridge settlements list --state needs_attention` shows it",
        )


@exceptions_app.command("approve")
def exceptions_approve(
    ident: Annotated[str, typer.Argument(help="RES-... or an EX-... with one proposal.")],
    actor: ActorOption = None,
    json_output: JsonOption = False,
) -> None:
    """Approve a proposed resolution (the checker; not the proposer). Apply settles it."""
    _decide(ident, actor, True, json_output)


@exceptions_app.command("reject")
def exceptions_reject(
    ident: Annotated[str, typer.Argument(help="RES-... or an EX-... with one proposal.")],
    actor: ActorOption = None,
    json_output: JsonOption = False,
) -> None:
    """Reject a proposed resolution (the checker; not the proposer)."""
    _decide(ident, actor, False, json_output)


def _print_outcome(
    cfg: PayBridgeConfig,
    resolution: dict[str, str],
    status: str,
    settlement_id: str | None,
    json_output: bool,
) -> None:
    amount = exceptions_show.resolution_text(cfg, resolution["exception_id"], resolution["amount"])
    if json_output:
        print_json(
            {
                **resolution,
                "amount_base_units": resolution["amount"],
                "amount_display": amount,
                "exception_status": status,
                "settlement_id": settlement_id,
            }
        )
        return
    console.print(
        shown(
            f"{resolution['resolution_id']} {resolution['action']} {amount} on "
            f"{resolution['exception_id']}: {resolution['state']} (proposed by "
            f"{resolution['proposed_by']}"
            + (f", decided by {resolution['approved_by']}" if resolution["approved_by"] else "")
            + f"); exception {status}"
            + (f"; settlement {settlement_id} queued" if settlement_id else "")
        )
    )


def _print_erp_tie_out(rows, eng, json_output: bool, title: str) -> None:  # type: ignore[no-untyped-def]
    """ERP tie-out rows with their amounts in the invoice currency (machines keep the plain
    decimals in JSON beside the ``*_display`` texts)."""
    from paybridge.recon_runs.tieouts_store import has_differences

    views = tieout_views.erp_rows(rows.to_dict("records"), eng)
    if json_output:
        print_json(views)
    else:
        grid = display.table(
            title, "key", "document", "expected", "actual", "difference", "status", ids=("key",)
        )
        for view in views:
            grid.add_row(
                shown(view["key"]),
                shown(view.get("detail", "") if view["status"] == "ok" else ""),
                shown(view["expected_display"]),
                shown(view["actual_display"]),
                shown(view["difference_display"]),
                shown(
                    view["status"]
                    if view["status"] == "ok"
                    else f"{view['status']}: {view['detail']}"
                ),
            )
        console.print(grid)
    if has_differences(rows):
        raise typer.Exit(1)


def _print_chain_tie_out(rows, cfg: PayBridgeConfig, eng, json_output: bool, title: str) -> None:  # type: ignore[no-untyped-def]
    """Chain tie-out rows with their amounts in token units beside the base units."""
    from paybridge.recon_runs.tieouts_store import has_differences

    views = tieout_views.chain_rows(rows.to_dict("records"), cfg, eng)
    if json_output:
        print_json(views)
    else:
        grid = display.table(
            title,
            "address or transfer",
            "expected",
            "actual",
            "difference",
            "status",
            ids=("address or transfer",),
        )
        for view in views:
            grid.add_row(
                shown(view["subject"]),
                shown(view["expected_display"]),
                shown(view["actual_display"]),
                shown(view["difference_display"]),
                shown(
                    view["status"]
                    if view["status"] == "ok"
                    else f"{view['status']}: {view['detail']}"
                ),
            )
        console.print(grid)
    if has_differences(rows):
        raise typer.Exit(1)


@tieout_app.command("chain")
def tieout_chain(
    chain: Annotated[str, typer.Option("--chain", help="Chain name or id.")],
    block: Annotated[
        int | None, typer.Option("--block", min=0, help="Default: last block scanned.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Recorded inflows - outflows vs the on-chain balance, per watched address and asset.
    Exit 1 when any difference is listed."""
    from paybridge.recon_runs.tieouts_store import TieOutError, tie_out_chain

    cfg = config()
    try:
        chain_cfg = cfg.chain(chain)
    except ConfigError as exc:
        fail(str(exc), code=USAGE_ERROR)
    eng = engine(cfg)
    try:
        rows = tie_out_chain(eng, chain_cfg, block=block)
    except TieOutError as exc:
        fail(str(exc))
    _print_chain_tie_out(rows, cfg, eng, json_output, f"subledger vs chain: {chain_cfg.name}")


@tieout_app.command("erp")
def tieout_erp(
    erp_config: Annotated[
        str | None,
        typer.Option(
            "--erp-config",
            help="ERP connection file; default: SAP_* (if SAP_SYSTEM) or NETSUITE_*.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Each posted settlement has exactly one ERP document with the same amount; its invoices
    are cleared. Exit 1 when any difference is listed."""
    from contextlib import closing

    from paybridge_connectors.erp.connections import open_connector

    from paybridge.cli.erp import connection_settings
    from paybridge.recon_runs.tieouts_store import tie_out_erp

    conn_cfg = connection_settings(erp_config)
    eng = engine(config())
    with closing(open_connector(conn_cfg)) as connector:
        rows = tie_out_erp(eng, connector, conn_cfg.name)
    _print_erp_tie_out(rows, eng, json_output, f"subledger vs ERP: {conn_cfg.name}")
