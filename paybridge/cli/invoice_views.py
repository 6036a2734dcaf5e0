"""`paybridge invoices list | show`: the receivables PayBridge holds, each with its payment
request (what to pay, what was received) and its settlements, amounts as people read them.

Wired in ``paybridge.cli.invoices``.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
import typer
from sqlalchemy.orm import Session

from paybridge.cli.context import (
    USAGE_ERROR,
    JsonOption,
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
    Token,
    cell,
    page_notice,
    print_fields,
    print_table,
    say,
    table,
)
from paybridge.domain.amounts import format_fiat
from paybridge.requests.lifecycle import Status
from paybridge.settlement_views import list_settlements
from paybridge.store.models import Invoice, PaymentRequest

#: --status value for invoices that have no payment request yet
NO_REQUEST = "no-request"


def _request_summary(request: PaymentRequest) -> dict[str, Any]:
    token = Token(request.asset_symbol, request.asset_decimals)
    return {
        "request_id": request.id,
        "status": request.status,
        "amount_due_base_units": str(request.amount_due),
        "amount_due_display": token.show(request.amount_due),
        "amount_received_base_units": str(request.amount_received),
        "amount_received_display": token.show(request.amount_received),
        "deposit_address": request.deposit_address,
    }


def invoice_view(invoice: Invoice, requests: list[PaymentRequest]) -> dict[str, Any]:
    return {
        "erp_system": invoice.erp_system,
        "company": invoice.company,
        "invoice_id": invoice.invoice_id,
        "customer_id": invoice.customer_id,
        "amount": str(invoice.amount),
        "currency": invoice.currency,
        "amount_display": format_fiat(invoice.amount, invoice.currency),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "chain": invoice.chain,
        "asset": invoice.asset_symbol,
        "source": invoice.source,
        "imported_at": invoice.imported_at.isoformat(),
        "payment_requests": [_request_summary(r) for r in requests],
    }


def _requests_of(session: Session, invoices: list[Invoice]) -> dict[tuple, list[PaymentRequest]]:
    wanted = {i.invoice_id for i in invoices}
    found: dict[tuple, list[PaymentRequest]] = {}
    if not wanted:
        return found
    for request in session.scalars(
        sa.select(PaymentRequest)
        .where(PaymentRequest.invoice_id.in_(wanted))
        .order_by(PaymentRequest.created_at)
    ):
        key = (request.erp_system, request.company, request.invoice_id)
        found.setdefault(key, []).append(request)
    return found


def _key(invoice: Invoice) -> tuple[str, str, str]:
    return (invoice.erp_system, invoice.company, invoice.invoice_id)


def list_invoices(
    customer: Annotated[str | None, typer.Option("--customer", help="Only this customer.")] = None,
    erp_system: Annotated[
        str | None, typer.Option("--erp-system", help="Only invoices from this ERP (or import).")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help=f"Only invoices whose request has this status, or '{NO_REQUEST}'."
        ),
    ] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Invoices, newest imported first, with the amount in the invoice currency and the
    status of their payment request."""
    statuses = [s.value for s in Status]
    if status is not None and status not in (*statuses, NO_REQUEST):
        fail(
            f"--status {status!r}: use one of {', '.join(statuses)} or {NO_REQUEST}",
            code=USAGE_ERROR,
        )
    query = sa.select(Invoice)
    if customer is not None:
        query = query.where(Invoice.customer_id == customer)
    if erp_system is not None:
        query = query.where(Invoice.erp_system == erp_system)
    if status is not None:
        has_request = (
            sa.select(PaymentRequest.id)
            .where(
                PaymentRequest.erp_system == Invoice.erp_system,
                PaymentRequest.company == Invoice.company,
                PaymentRequest.invoice_id == Invoice.invoice_id,
            )
            .correlate(Invoice)
        )
        if status == NO_REQUEST:
            query = query.where(~has_request.exists())
        else:
            query = query.where(has_request.where(PaymentRequest.status == status).exists())
    with Session(engine(config())) as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        invoices = session.scalars(
            query.order_by(Invoice.imported_at.desc(), Invoice.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        requests = _requests_of(session, list(invoices))
        views = [invoice_view(i, requests.get(_key(i), [])) for i in invoices]
    if json_output:
        print_json(views)
    else:
        grid = table(
            f"{total} invoices",
            "invoice",
            "customer / due",
            "amount / pay in",
            "request / status",
            ids=("invoice", "request / status"),
            keep=("amount / pay in",),
        )
        for view in views:
            request = view["payment_requests"][-1] if view["payment_requests"] else None
            grid.add_row(
                shown(f"{view['erp_system']}/{view['invoice_id']}"),
                cell(view["customer_id"], view["due_date"] or "no due date"),
                cell(view["amount_display"], view["asset"]),
                cell(request["request_id"], request["status"]) if request else "(none)",
            )
        print_table(grid, "no invoices match")
    page_notice("invoices", len(views), total, offset, limit)


def show_invoice(
    invoice_id: Annotated[str, typer.Argument(help="The ERP's invoice id.")],
    erp_system: Annotated[
        str | None, typer.Option("--erp-system", help="When two ERPs use the same id.")
    ] = None,
    company: Annotated[
        str | None, typer.Option("--company", help="When two companies use the same id.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """One invoice with its payment requests (to pay, received) and its settlements."""
    query = sa.select(Invoice).where(Invoice.invoice_id == invoice_id)
    if erp_system is not None:
        query = query.where(Invoice.erp_system == erp_system)
    if company is not None:
        query = query.where(Invoice.company == company)
    eng = engine(config())
    with Session(eng) as session:
        found = session.scalars(query).all()
        if len(found) > 1:
            fail(
                f"invoice {invoice_id!r} exists in "
                + ", ".join(f"{i.erp_system}/{i.company}" for i in found),
                "say which with --erp-system and --company",
                code=USAGE_ERROR,
            )
        if not found:
            fail(f"no invoice {invoice_id!r}", "list them with `paybridge invoices list`")
        [invoice] = found
        view = invoice_view(invoice, _requests_of(session, [invoice]).get(_key(invoice), []))
    view["settlements"] = [
        {
            "settlement_id": s["settlement_id"],
            "state": s["state"],
            "connection": s["connection"],
            "connection_configured": s["connection_configured"],
            "payment_amount": s["payment_amount"],
            "payment_amount_display": format_fiat(s["payment_amount"], s["currency"]),
            "reason": s["reason"],
        }
        for s in list_settlements(eng, invoice=invoice.invoice_id)
        if s["erp_system"] == invoice.erp_system and s["company"] == invoice.company
    ]
    if json_output:
        print_json(view)
        return
    flat = {k: v for k, v in view.items() if k not in ("payment_requests", "settlements", "amount")}
    print_fields(flat, 14)
    for request in view["payment_requests"]:
        say(
            f"request {request['request_id']}: {request['status']}, to pay "
            f"{request['amount_due_display']}, received {request['amount_received_display']}"
            f" at {request['deposit_address']}"
        )
    if not view["payment_requests"]:
        console.print("no payment request yet (`paybridge requests create`)", highlight=False)
    for settlement in view["settlements"]:
        say(
            f"settlement {settlement['settlement_id']}: {settlement['state']}, "
            f"{settlement['payment_amount_display']}"
            + (f" ({settlement['reason']})" if settlement["reason"] else "")
        )
