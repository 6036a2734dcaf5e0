"""`paybridge settle`, `paybridge erp test-connection|sync`, `paybridge sim netsuite`.

Register with ``erp.register(app)`` in ``paybridge/cli/main.py``.
"""

from __future__ import annotations

import ipaddress
import signal
import threading
from decimal import Decimal
from typing import Annotated

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from rich.progress import Progress
from rich.table import Table

from connectors.erp.netsuite.config import NetSuiteConnectionConfig, load_connection_config
from connectors.erp.netsuite.connector import NetSuiteConnector
from paybridge.cli.context import (
    USAGE_ERROR,
    config,
    console,
    engine,
    errors,
    fail,
    print_json,
    shown,
)
from paybridge.erp_sync import intake_open_invoices, sync_open_invoices
from paybridge.secrets_guard import PrivateKeyMaterialError, refuse_private_material
from paybridge.settlement_outbox import post_due, status_counts
from paybridge.store.db import transaction
from paybridge.store.models import ErpInvoiceQuarantine

ErpConfigOption = Annotated[
    str | None,
    typer.Option(
        "--erp-config",
        envvar="PAYBRIDGE_ERP_CONFIG",
        help="NetSuite connection file (JSON/TOML); default: NETSUITE_* environment variables.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

erp_app = typer.Typer(help="ERP connections: test them, sync open invoices.", no_args_is_help=True)
sim_app = typer.Typer(
    help="Local simulators for tests and demos (not the real systems).", no_args_is_help=True
)


def connection_settings(path: str | None) -> NetSuiteConnectionConfig:
    """The NetSuite connection from ``path`` (or NETSUITE_*); exit 2 with the reason if unusable.

    A seed phrase or key given as the path (``PAYBRIDGE_ERP_CONFIG=<mnemonic>``) is refused
    without repeating it, instead of coming back in "no such file: ...".
    """
    try:
        if path is not None:
            refuse_private_material(path, "--erp-config / $PAYBRIDGE_ERP_CONFIG")
        return load_connection_config(path)
    except PrivateKeyMaterialError as exc:
        fail(str(exc), code=USAGE_ERROR)
    except (ValidationError, ValueError, OSError) as exc:
        fail(
            f"NetSuite connection settings: {exc}",
            "set NETSUITE_ACCOUNT/_CONSUMER_KEY/_CONSUMER_SECRET/_TOKEN_ID/_TOKEN_SECRET and "
            "NETSUITE_ACCOUNTS, or pass --erp-config FILE",
            code=USAGE_ERROR,
        )


def settle(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what is due; post nothing.")
    ] = False,
    erp_config: ErpConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Post due settlements of this ERP connection from the outbox (idempotent; safe to re-run)."""
    eng = engine(config())
    conn_cfg = connection_settings(erp_config)
    with NetSuiteConnector(conn_cfg) as connector:
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
    result = {**summary.as_dict(), "dry_run": dry_run, "outbox": status_counts(eng)}
    if dry_run:
        result["due_ids"] = summary.due
    if json_output:
        print_json(result)
        return
    table = Table(title="Settlements" + (" (dry run)" if dry_run else ""))
    for column in ("due" if dry_run else "posted", "failed (will retry)", "needs attention"):
        table.add_column(column, justify="right")
    table.add_row(
        str(len(summary.due) if dry_run else len(summary.posted)),
        str(len(summary.failed)),
        str(len(summary.needs_attention)),
    )
    console.print(table)
    for sid, error in summary.errors.items():
        console.print(f"[yellow]{shown(sid)}[/]: {shown(error)}", highlight=False)
    if summary.needs_attention:
        console.print(
            "Settlements needing attention stay in the outbox; fix the cause, then requeue them."
        )


@erp_app.callback()
def erp() -> None:
    """ERP connections: test them, sync open invoices."""


@erp_app.command("test-connection")
def test_connection(erp_config: ErpConfigOption = None, json_output: JsonOption = False) -> None:
    """Check credentials, permissions and reachability of the NetSuite connection."""
    with NetSuiteConnector(connection_settings(erp_config)) as connector:
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
    """Fetch open invoices changed since the last sync into the store (bad ones quarantined)."""
    eng = engine(config())
    conn_cfg = connection_settings(erp_config)
    with (
        NetSuiteConnector(conn_cfg) as connector,
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
    taken_in = intake_open_invoices(
        eng, conn_cfg.name, conn_cfg.payment_chain, conn_cfg.payment_asset
    )
    if json_output:
        print_json({**summary.as_dict(), "new_invoices": taken_in})
    else:
        console.print(
            f"{summary.invoices} invoices stored, {summary.quarantined} quarantined, "
            f"{summary.http_requests} HTTP requests; watermark {shown(summary.watermark)}; "
            f"{taken_in} new invoices ready for `paybridge requests create`"
        )


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


@sim_app.callback()
def sim() -> None:
    """Local simulators for tests and demos (not the real systems)."""


@sim_app.command("netsuite")
def sim_netsuite(
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8765,
    host: Annotated[
        str,
        typer.Option("--host", help="Listen address; other than loopback only with a warning."),
    ] = "127.0.0.1",
    seed_invoices: Annotated[int, typer.Option("--seed-invoices", min=0)] = 0,
    latency: Annotated[
        float, typer.Option("--latency", min=0.0, help="Seconds per request.")
    ] = 0.0,
    error_rate: Annotated[float, typer.Option("--error-rate", min=0.0, max=1.0)] = 0.0,
    rate_429: Annotated[float, typer.Option("--rate-429", min=0.0, max=1.0)] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option("--drop-rate", min=0.0, max=1.0, help="Commit, then drop the connection."),
    ] = 0.0,
    retry_after: Annotated[
        int, typer.Option("--retry-after", min=0, help="Retry-After seconds on 429.")
    ] = 1,
    json_output: JsonOption = False,
) -> None:
    """Run the NetSuite simulator on loopback until Ctrl-C (prints the NETSUITE_* settings)."""
    from simulators.netsuite import DEFAULT_GRANT, FaultConfig, NetSuiteSimulator

    if error_rate + rate_429 + drop_rate > 1:
        fail("--error-rate + --rate-429 + --drop-rate must not exceed 1", code=USAGE_ERROR)
    simulator = NetSuiteSimulator(
        host=host,
        port=port,
        faults=FaultConfig(
            latency_s=latency,
            error_5xx_rate=error_rate,
            rate_429=rate_429,
            commit_then_drop_rate=drop_rate,
            retry_after_s=retry_after,
        ),
    )
    simulator.seed_invoices(seed_invoices, amount=Decimal("100.00"))
    try:
        simulator.start()
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}", "choose another --port", code=USAGE_ERROR)
    stop = threading.Event()
    # SIGTERM (docker, supervisors, scripts) and Ctrl-C both stop it cleanly; SIGINT alone is
    # not enough because shells start background jobs with SIGINT ignored. Installed before the
    # settings are printed, so a script that stops it as soon as it reads them stops it cleanly.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    if not _is_loopback(host):
        errors.print(
            f"[bold yellow]Warning:[/] listening on {shown(host)}, not loopback: other machines "
            "can reach the simulator, and its test credentials are printed below. Use the "
            "default --host 127.0.0.1 unless you need that.",
            highlight=False,
        )
    env = {
        "NETSUITE_ACCOUNT": simulator.account_id,
        "NETSUITE_CONSUMER_KEY": DEFAULT_GRANT.consumer_key,
        "NETSUITE_CONSUMER_SECRET": DEFAULT_GRANT.consumer_secret,
        "NETSUITE_TOKEN_ID": DEFAULT_GRANT.token_id,
        "NETSUITE_TOKEN_SECRET": DEFAULT_GRANT.token_secret,
        "NETSUITE_BASE_URL": simulator.base_url,
        "NETSUITE_ACCOUNTS": '{"ar":"119","crypto_clearing":"301","digital_asset":"302",'
        '"settlement_gain_loss":"303","write_off":"304"}',
    }
    if json_output:
        print_json({"base_url": simulator.base_url, "seeded_invoices": seed_invoices, "env": env})
    else:
        console.print(
            f"NetSuite simulator (not NetSuite) on {simulator.base_url} with "
            f"{seed_invoices} open invoices. Ctrl-C to stop. Settings:",
            highlight=False,
        )
        for key, value in env.items():
            typer.echo(f"export {key}='{value}'")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def register(app: typer.Typer) -> None:
    """One call from paybridge/cli/main.py wires every command of this module."""
    app.command("settle")(settle)
    app.add_typer(erp_app, name="erp")
    app.add_typer(sim_app, name="sim")
