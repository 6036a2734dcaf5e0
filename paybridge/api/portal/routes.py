"""Routes of the payer's page: the page, its status JSON, the re-quote form, the receipt
(HTML, PDF) and the merchant's logo. Public: a payment id is a 96-bit random value, the
payer's capability. Everything the page uses is served from here; the Content-Security-Policy
forbids the browser to load anything from another origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paybridge.api.portal import receipt, view
from paybridge.api.problems import ApiProblem
from paybridge.orders.create import OrderRefused
from paybridge.orders.requote import requote
from paybridge.store.db import transaction

router = APIRouter(include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(["html"]),
)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get(view.LOGO_PATH)
def logo(request: Request) -> Response:
    portal = request.app.state.config.portal
    if not portal.logo_file:
        raise ApiProblem(404, "No logo", "no [portal] logo_file is configured")
    return FileResponse(portal.logo_file, media_type=portal.logo_media_type)


def _page(request: Request, payment_id: str, error: str | None = None) -> str:
    state = request.app.state
    with transaction(state.engine) as session:
        context = view.page_view(state.config, view.load(session, payment_id), state.networks)
    return templates.get_template("pay.html").render(**context, error=error)


@router.get("/pay/{payment_id}", response_class=HTMLResponse)
def pay_page(request: Request, payment_id: str) -> HTMLResponse:
    return HTMLResponse(_page(request, payment_id), headers=HEADERS)


@router.get("/pay/{payment_id}/status")
def pay_status(request: Request, payment_id: str) -> JSONResponse:
    state = request.app.state
    with transaction(state.engine) as session:
        body = view.status_view(state.config, view.load(session, payment_id))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/pay/{payment_id}/quote")
async def pay_requote(request: Request, payment_id: str) -> Response:
    """The payer's choice of asset and network (form field ``choice`` = "<chain>:<symbol>"),
    or a fresh quote after expiry: a new locked quote, then back to the page (303)."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    choice = (form.get("choice") or [""])[0]
    state = request.app.state

    def work() -> None:
        with transaction(state.engine) as session:
            requote(
                session,
                payment_id,
                choice,
                config=state.config,
                rates_for_chain=state.rates_for_chain,
            )

    try:
        await run_in_threadpool(work)
    except OrderRefused as exc:
        if exc.status == 404:
            raise
        page = await run_in_threadpool(_page, request, payment_id, f"{exc.title}: {exc}")
        return HTMLResponse(page, status_code=exc.status, headers=HEADERS)
    return RedirectResponse(f"/pay/{payment_id}", status_code=303)


def _receipt_html(request: Request, payment_id: str) -> str:
    state = request.app.state
    with transaction(state.engine) as session:
        loaded = view.load(session, payment_id)
        try:
            context = receipt.receipt_context(state.config, loaded, state.networks)
        except receipt.NoReceiptYet as exc:
            raise ApiProblem(409, "No receipt yet", str(exc)) from exc
    return receipt.render_html(templates, context)


@router.get("/pay/{payment_id}/receipt", response_class=HTMLResponse)
def pay_receipt(request: Request, payment_id: str) -> HTMLResponse:
    return HTMLResponse(_receipt_html(request, payment_id), headers=HEADERS)


@router.get("/pay/{payment_id}/receipt.pdf")
def pay_receipt_pdf(request: Request, payment_id: str) -> Response:
    pdf = receipt.render_pdf(_receipt_html(request, payment_id))
    headers: dict[str, Any] = {
        "Content-Disposition": f'attachment; filename="receipt-{payment_id}.pdf"',
        "Cache-Control": "no-store",
    }
    return Response(pdf, media_type="application/pdf", headers=headers)
