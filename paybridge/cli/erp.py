"""`paybridge settle`, `paybridge erp test-connection|sync|quarantine`.

Wired by ``erp.register(app)``, from the root table in paybridge/cli/lazy.py.
"""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import sqlalchemy as sa
import typer
from paybridge_connectors.erp.connections import (
    ErpConnectionConfig,
    env_prefix,
    load_erp_connection,
    open_connector,
)
from pydantic import ValidationError
from rich.progress import Progress
from rich.table import Table

from paybridge.cli import problems
from paybridge.cli.context import (
    FAILURE,
    USAGE_ERROR,
    JsonOption,
    config,
    console,
    engine,
    fail,
    print_json,
    shown,
)
from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.erp_sync import (
    PaymentTarget,
    intake_open_invoices,
    payment_target,
    sync_open_invoices,
)
from paybridge.secrets_guard import PrivateKeyMaterialError, refuse_private_material
from paybridge.settlement_outbox import SettleSummary, post_due, status_counts
from paybridge.settlement_views import waiting_elsewhere
from paybridge.store.db import transaction
from paybridge.store.models import ErpInvoiceQuarantine

ErpConfigOption = Annotated[
    str | None,
    typer.Option(
        "--erp-config",
        envvar="PAYBRIDGE_ERP_CONFIG",
        help="ERP connection file (JSON/TOML; NetSuite, or SAP under [sap]); default: SAP_* "
        "environment variables when SAP_SYSTEM is set, else NETSUITE_*.",
    ),
]

erp_app = typer.Typer(help="ERP connections: test them, sync open invoices.", no_args_is_help=True)


def connection_settings(
    path: str | None, cfg: PayBridgeConfig | None = None
) -> ErpConnectionConfig:
    """The ERP connection from ``path`` (or SAP_* / NETSUITE_*); exit 2 with the reason if
    unusable.

    With ``cfg``, a payment_chain/payment_asset that is set must name a chain and asset of
    paybridge.toml (exit 2 naming the key otherwise). A seed phrase or key given as the path
    (``PAYBRIDGE_ERP_CONFIG=<mnemonic>``) is refused without repeating it, instead of coming
    back in "no such file: ...".
    """
    try:
        if path is not None:
            refuse_private_material(path, "--erp-config / $PAYBRIDGE_ERP_CONFIG")
        conn_cfg = load_erp_connection(path)
    except PrivateKeyMaterialError as exc:
        fail(str(exc), code=USAGE_ERROR)
    except (ValidationError, ValueError, OSError) as exc:
        fail(
            f"ERP connection settings: {exc}",
            "for NetSuite set NETSUITE_ACCOUNT/_CONSUMER_KEY/_CONSUMER_SECRET/_TOKEN_ID/"
            "_TOKEN_SECRET and NETSUITE_ACCOUNTS; for SAP set SAP_SYSTEM, SAP_BASE_URL, "
            "SAP_CLIENT, SAP_USER/SAP_PASSWORD, SAP_COMPANY_CODES and SAP_ACCOUNTS; or pass "
            "--erp-config FILE",
            code=USAGE_ERROR,
        )
    if cfg is not None and (conn_cfg.payment_chain or conn_cfg.payment_asset):
        _payment_target(cfg, conn_cfg)
    return conn_cfg


def _payment_target(cfg: PayBridgeConfig, conn_cfg: ErpConnectionConfig) -> PaymentTarget:
    prefix = env_prefix(conn_cfg)
    try:
        return payment_target(
            cfg, conn_cfg.name, conn_cfg.payment_chain, conn_cfg.payment_asset, prefix
        )
    except ConfigError as exc:
        fail(
            str(exc),
            f"set {prefix}PAYMENT_CHAIN and {prefix}PAYMENT_ASSET (or payment_chain and "
            "payment_asset in --erp-config FILE) to a chain and asset of paybridge.toml",
            code=USAGE_ERROR,
        )


def settle(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what is due; post nothing.")
    ] = False,
    erp_config: ErpConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Post due settlements of this ERP connection from the outbox (idempotent; safe to re-run).

    Exit 1 when any settlement of this run failed or needs attention."""

    cfg = config()
    eng = engine(cfg)
    conn_cfg = connection_settings(erp_config, cfg)
    with closing(open_connector(conn_cfg)) as connector:
        before = status_counts(eng)
        todo = before.get("pending", 0) + before.get("failed", 0)
        with Progress(console=console, transient=True, disable=json_output or dry_run) as bar:
            task = bar.add_task("posting settlements", total=todo or None)
            summary = post_due(
                eng,
                connector,
                connection=conn_cfg.name,
                dry_run=dry_run,
                on_progress=lambda _sid, _state: bar.advance(task),
            )
    waiting = waiting_elsewhere(eng, conn_cfg.name)
    result = {
        **summary.as_dict(),
        "dry_run": dry_run,
        "connection": conn_cfg.name,
        "outbox": status_counts(eng),
        "waiting_for_other_connections": waiting,
    }
    if dry_run:
        result["due_ids"] = summary.due
    if json_output:
        print_json(result)
    else:
        _print_settle(summary, dry_run, conn_cfg.name, waiting, result["outbox"])
    if summary.failed or summary.needs_attention:
        raise typer.Exit(FAILURE)


def _print_settle(
    summary: SettleSummary,
    dry_run: bool,
    connection: str,
    waiting: dict[str, int],
    outbox: dict[str, int],
) -> None:
    table = Table(title=f"Settlements of connection {connection}" + (" (dry run)" * dry_run))
    for column in ("due" if dry_run else "posted", "failed (will retry)", "needs attention"):
        table.add_column(column, justify="right")
    table.add_row(
        str(len(summary.due) if dry_run else len(summary.posted)),
        str(len(summary.failed)),
        str(len(summary.needs_attention)),
    )
    console.print(table)
    if summary.errors:
        problems.report(
            f"{len(summary.errors)} settlements were not posted:",
            ((sid, error) for sid, error in summary.errors.items()),
            "failed ones are retried by the next `paybridge settle`; for those needing "
            "attention fix the cause, then `paybridge settlements requeue ID`",
        )
    if waiting:
        console.print(
            "Not posted by this connection, still pending for: "
            + ", ".join(f"{name or '(no connection)'} ({n})" for name, n in waiting.items())
            + " (run `paybridge settle` with that connection's settings)",
            highlight=False,
        )
    if outbox.get("needs_attention"):
        console.print(
            f"{outbox['needs_attention']} settlements in the outbox need attention: "
            "`paybridge settlements list --state needs_attention` shows them and why",
            highlight=False,
        )


@erp_app.callback()
def erp() -> None:
    """ERP connections: test them, sync open invoices."""


@erp_app.command("test-connection")
def test_connection(erp_config: ErpConfigOption = None, json_output: JsonOption = False) -> None:
    """Check credentials, permissions and reachability of the ERP connection."""
    with closing(open_connector(connection_settings(erp_config, config()))) as connector:
        check = connector.test_connection()
    if json_output:
        print_json(
            {
                "ok": check.ok,
                "problem": check.problem.value,
                "message": check.message,
                **check.details,
            }
        )
    elif check.ok:
        console.print(f"[green]OK[/] {shown(check.message)}", highlight=False)
    else:
        console.print(f"[red]{check.problem.value}[/]: {shown(check.message)}", highlight=False)
    if not check.ok:
        raise typer.Exit(1)


@erp_app.command("sync")
def sync(
    full: Annotated[bool, typer.Option("--full", help="Ignore the watermark; fetch all.")] = False,
    erp_config: ErpConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Fetch open invoices changed since the last sync into the store (bad ones quarantined).

    Exit 1 when this run quarantined any invoice; exit 2 when payment_chain/payment_asset
    are missing or unknown."""

    cfg = config()
    eng = engine(cfg)
    conn_cfg = connection_settings(erp_config)
    target = _payment_target(cfg, conn_cfg)  # before fetching anything: no silent default
    with (
        closing(open_connector(conn_cfg)) as connector,
        Progress(console=console, transient=True, disable=json_output) as bar,
    ):
        task = bar.add_task("syncing invoices", total=None)
        summary = sync_open_invoices(
            eng,
            connector,
            conn_cfg.name,
            full=full,
            on_page=lambda s: bar.update(task, completed=s.invoices + s.quarantined),
        )
    taken_in = intake_open_invoices(eng, conn_cfg.name, target)
    if json_output:
        print_json(
            {**summary.as_dict(), "new_invoices": taken_in, "chain": target.chain,
             "asset": target.asset}
        )  # fmt: skip
    else:
        console.print(
            f"{summary.invoices} invoices stored, {summary.quarantined} quarantined, "
            f"{summary.http_requests} HTTP requests; watermark {summary.watermark}; "
            f"{taken_in} new invoices billed in {target.asset} on {target.chain}, ready for "
            "`paybridge requests create`"
        )
        if summary.quarantined_invoices:
            problems.report(
                f"{summary.quarantined} invoices were quarantined (not taken in):",
                (
                    (_named(q["invoice_id"], q["reason"]), f"field {q['field']}")
                    for q in summary.quarantined_invoices
                ),
                "fix them in the ERP (`paybridge erp quarantine` lists them all); the next "
                "sync takes them in",
            )
        withdrawn = [c for c in summary.closed_invoices if c["action"] == "withdrawn"]
        if withdrawn:
            console.print(
                f'{len(withdrawn)} invoices left "open" in the ERP; their payment requests '
                "were withdrawn (crypto still sent to them goes to the exceptions queue):",
                highlight=False,
            )
            for c in withdrawn:
                console.print(
                    f"  {shown(c['invoice_id'])} ({shown(c['detail'])}): {c['request_id']}",
                    highlight=False,
                )
    if summary.quarantined:
        raise typer.Exit(FAILURE)


def _named(invoice_id: str, reason: str) -> str:
    return reason if invoice_id in reason else f"{invoice_id}: {reason}"


@erp_app.command("quarantine")
def quarantine(json_output: JsonOption = False) -> None:
    """Invoices the ERP sync refused, with the field and reason, for finance ops to fix upstream."""
    with transaction(engine(config())) as session:
        rows = [
            {
                "connection": q.connection,
                "erp_system": q.erp_system,
                "company": q.company,
                "invoice_id": q.invoice_id,
                "field": q.field,
                "reason": q.reason,
                "quarantined_at": q.quarantined_at.isoformat(),
            }
            for q in session.scalars(
                sa.select(ErpInvoiceQuarantine).order_by(
                    ErpInvoiceQuarantine.connection, ErpInvoiceQuarantine.invoice_id
                )
            )
        ]
    if json_output:
        print_json(rows)
        return
    table = Table("connection", "invoice", "field", "reason", title="Quarantined invoices")
    for row in rows:
        table.add_row(
            shown(row["connection"]),
            shown(row["invoice_id"]),
            shown(row["field"] or "-"),
            shown(row["reason"]),
        )
    console.print(table if rows else "no quarantined invoices")
    if rows:
        console.print("Fix these in the ERP; the next sync takes them in and clears them here.")


def register(app: typer.Typer) -> None:
    """Wires every command of this module (once, from paybridge/cli/lazy.py)."""
    app.command("settle")(settle)
    app.add_typer(erp_app, name="erp")
