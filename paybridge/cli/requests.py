"""`paybridge requests create | list | show | gaps`: payment requests and their payment links."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.progress import Progress

from paybridge.cli import problems
from paybridge.cli.context import (
    FAILURE,
    USAGE_ERROR,
    actor,
    config,
    console,
    engine,
    errors,
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
    table,
)
from paybridge.config import ConfigError
from paybridge.domain.amounts import format_fiat
from paybridge.eip681 import describe_amount
from paybridge.requests import DEFAULT_BATCH
from paybridge.requests.actions import RequestNotFound, expire_overdue, mark_request
from paybridge.requests.gaps import WALLET_GAP_LIMIT, gap_reports
from paybridge.requests.lifecycle import FLAGS, IllegalTransition, Status
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest

app = typer.Typer(help="Crypto payment requests created from invoices.", no_args_is_help=True)


@app.callback()
def requests() -> None:
    """Crypto payment requests created from invoices."""


def request_view(request: PaymentRequest) -> dict[str, Any]:
    """The fields a person (or an integrator's script) needs about one request."""
    return {
        "id": request.id,
        "erp_system": request.erp_system,
        "company": request.company,
        "invoice_id": request.invoice_id,
        "customer_id": request.customer_id,
        "invoice_amount": str(request.invoice_amount),
        "currency": request.currency,
        "chain_id": request.chain_id,
        "asset": request.asset_symbol,
        "asset_address": request.asset_address,
        "deposit_address": request.deposit_address,
        "derivation_index": request.derivation_index,
        "invoice_amount_display": format_fiat(request.invoice_amount, request.currency),
        "amount_due": str(request.amount_due),  # kept for scripts: = amount_due_base_units
        "amount_due_base_units": str(request.amount_due),
        "amount_due_display": describe_amount(
            request.amount_due, request.asset_decimals, request.asset_symbol
        ),
        "rate": str(request.rate_price),
        "rate_source": request.rate_source,
        "rate_as_of": request.rate_as_of.isoformat(),
        "quote_expires_at": request.quote_expires_at.isoformat(),
        "monitor_until": request.monitor_until.isoformat(),
        "payment_uri": request.payment_uri,
        "status": request.status,
        "flags": [flag for flag in FLAGS if getattr(request, flag)],
        "amount_received": str(request.amount_received),  # = amount_received_base_units
        "amount_received_base_units": str(request.amount_received),
        "amount_received_display": describe_amount(
            request.amount_received, request.asset_decimals, request.asset_symbol
        ),
        "shortfall_display": describe_amount(
            max(request.amount_due - request.amount_received, 0),
            request.asset_decimals,
            request.asset_symbol,
        ),
    }


@app.command("create")
def create(
    invoice: Annotated[
        list[str] | None, typer.Option("--invoice", help="Only these invoice ids (repeatable).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000)] = DEFAULT_BATCH,
    json_output: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Create a payment request for every imported invoice that has none (idempotent)."""
    from paybridge.requests.pipeline import create_pending_requests, pending_invoices  # web3

    cfg = config()
    eng = engine(cfg)
    total = len(pending_invoices(eng, invoice or ()))
    with Progress(console=errors, transient=True, disable=json_output) as progress:
        task = progress.add_task("creating payment requests", total=total)
        try:
            summary = create_pending_requests(
                eng,
                cfg,
                actor=actor(),
                invoice_ids=invoice or (),
                batch_size=batch_size,
                on_progress=lambda n: progress.advance(task, n),
            )
        except ConfigError as exc:
            fail(str(exc), "edit paybridge.toml (see README: Configuration)", code=USAGE_ERROR)
    if json_output:
        print_json(
            {
                "created": summary.created,
                "already_existed": summary.existing,
                "skipped": [{"invoice_id": i, "reason": r} for i, r in summary.skipped],
                "skipped_by_reason": problems.group(summary.skipped),
                "requests": [request_view(r.request) for r in summary.requests],
            }
        )
    else:
        console.print(
            f"{summary.created} payment requests created, {summary.existing} already existed, "
            f"{len(summary.skipped)} invoices skipped"
        )
    if summary.skipped:
        if not json_output:
            problems.report(
                f"{len(summary.skipped)} invoices got no payment request:",
                summary.skipped,
                "fix the cause (the asset's rate in paybridge.toml, the chain's rpc_url, the "
                "feed), then run `paybridge requests create` again; it only creates what is "
                "missing",
            )
        raise typer.Exit(FAILURE)


@app.command("list")
def list_requests(
    status: Annotated[Status | None, typer.Option(help="Only requests in this status.")] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List payment requests, newest first: the invoice amount in its currency, what to pay
    and what was received in token units."""
    query = sa.select(PaymentRequest)
    if status is not None:
        query = query.where(PaymentRequest.status == status.value)
    with transaction(engine(config())) as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        query = query.order_by(
            PaymentRequest.created_at.desc(), PaymentRequest.derivation_index.desc()
        )
        rows = [request_view(r) for r in session.scalars(query.offset(offset).limit(limit))]
    if json_output:
        print_json(rows)
    else:
        grid = table(
            f"{total} payment requests",
            "request",
            "invoice",
            "invoice amount",
            "to pay / received",
            "status",
            ids=("request", "invoice"),
            keep=("status",),
        )
        for row in rows:
            grid.add_row(
                shown(row["id"]),
                cell(row["invoice_id"], row["customer_id"]),
                shown(row["invoice_amount_display"]),
                cell(row["amount_due_display"], row["amount_received_display"]),
                cell(row["status"], *row["flags"]),
            )
        print_table(grid, "no payment requests match")
    page_notice("payment requests", len(rows), total, offset, limit)


@app.command("show")
def show(
    request_id: Annotated[str, typer.Argument(help="Payment request id (pr_...).")],
    qr_dir: Annotated[
        Path | None, typer.Option(help="Also write <id>.svg and <id>.png QR codes here.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show one payment request with its payment link (and QR files with --qr-dir)."""
    with transaction(engine(config())) as session:
        request = session.get(PaymentRequest, request_id)
        if request is None:
            fail(f"no payment request {request_id!r}", "list them with `paybridge requests list`")
        view = request_view(request)
    if qr_dir is not None:
        from paybridge.qr import write_payment_qr  # segno: only when QR codes are asked for

        qr = write_payment_qr(view["payment_uri"], qr_dir, request_id)
        view["qr_svg"], view["qr_png"] = str(qr.svg_path), str(qr.png_path)
    if json_output:
        print_json(view)
        return
    aliases = ("amount_due", "amount_received")  # the same base units as *_base_units (JSON)
    print_fields({k: v for k, v in view.items() if k not in aliases}, 26)


@app.command("mark")
def mark(
    request_id: Annotated[str, typer.Argument(help="Payment request id (pr_...).")],
    status: Annotated[
        Status, typer.Option(help="completed (paid off-chain) or invalid (invoice cancelled).")
    ],
    reason: Annotated[str, typer.Option(help="Why; recorded in the audit log.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the request as JSON.")] = False,
) -> None:
    """Mark a request by hand; it gets the `marked` flag and an audit entry with your reason."""
    with transaction(engine(config())) as session:
        try:
            request = mark_request(session, request_id, status, actor=actor(), reason=reason)
        except RequestNotFound as exc:
            fail(str(exc), "list them with `paybridge requests list`")
        except (IllegalTransition, ValueError) as exc:
            fail(str(exc))
        view = request_view(request)
    if json_output:
        print_json(view)
    else:
        console.print(f"{shown(request_id)} is now {view['status']} (marked)", highlight=False)


@app.command("expire")
def expire(
    json_output: Annotated[bool, typer.Option("--json", help="Print the count as JSON.")] = False,
) -> None:
    """Expire requests whose quote lapsed unpaid; their addresses stay watched for late payments."""
    with transaction(engine(config())) as session:
        count = expire_overdue(session, actor=actor())
    if json_output:
        print_json({"expired": count})
    else:
        console.print(f"{count} payment requests expired")


@app.command("gaps")
def gaps(
    gap_limit: Annotated[
        int, typer.Option(min=1, help="The gap limit your wallet scans with (BIP-44: 20).")
    ] = WALLET_GAP_LIMIT,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Longest runs of never-paid deposit addresses per xpub, and the wallet gap limit they need.

    Exit 1 when a wallet scanning with --gap-limit would miss paid addresses.
    """
    with transaction(engine(config())) as session:
        reports = gap_reports(session)
    short = [r for r in reports if r.needed_gap_limit > gap_limit]
    if json_output:
        print_json(
            [
                {**asdict(r), "needed_gap_limit": r.needed_gap_limit, "enough": r not in short}
                for r in reports
            ]
        )
    else:
        for r in reports:
            console.print(
                f"xpub {r.xpub_fingerprint[:16]}: {r.allocated} addresses (0..{r.highest_index}, "
                f"{r.holes} unallocated), {r.paid} paid; longest unpaid run "
                f"{r.longest_unpaid_run}, {r.unpaid_since_last_paid} unpaid since the last "
                f"payment -> wallet gap limit needed: {r.needed_gap_limit}",
                highlight=False,
            )
        if not reports:
            console.print("no payment requests yet")
    for r in short:
        errors.print(
            f"[yellow]xpub {r.xpub_fingerprint[:16]} needs a wallet gap limit of "
            f"{r.needed_gap_limit}[/] (given {gap_limit}): raise it in the wallet, or it will "
            "not show every deposit (README: Payment requests)",
            highlight=False,
        )
    if short:
        raise typer.Exit(1)
