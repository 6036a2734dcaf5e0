"""/v1/payments: create-order (idempotent), get, list, cancel, and the payment's QR codes."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from paybridge.access.api_keys import Caller
from paybridge.api.auth import Credentials, authorize, presented, require
from paybridge.api.order_writer import OrderJob
from paybridge.api.problems import ApiProblem, invalid_body
from paybridge.api.schemas import Payment, PaymentPage
from paybridge.eip681 import describe_amount
from paybridge.orders.body import CreateOrder, parse_json
from paybridge.orders.create import create_order, index_fingerprint, lock_rate
from paybridge.orders.queries import (
    MAX_PAGE,
    Filters,
    cancel_payment,
    get_payment,
    list_payments,
    payment_view,
)
from paybridge.qr import qr_png, qr_svg
from paybridge.store.db import transaction

router = APIRouter(prefix="/v1/payments", tags=["payments"])

_PROBLEM = {"content": {"application/problem+json": {}}, "description": "Problem details"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _PROBLEM for code in (400, 401, 403, 404, 409, 422, 429, 503)
}
_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CreateOrder.model_json_schema()}},
    }
}


def _base_url(request: Request) -> str:
    configured = request.app.state.config.api.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _view(request: Request, row: Any, order: Any) -> dict[str, Any]:
    networks = request.app.state.networks
    return payment_view(row, order, _base_url(request), networks.get(row.chain_id, ""))


@router.post(
    "/create-order",
    response_model=Payment,
    status_code=201,
    responses={200: {"model": Payment, "description": "Idempotent replay"}, **_ERRORS},
    openapi_extra=_CREATE_BODY,
)
async def create(
    request: Request,
    response: Response,
    credentials: Annotated[Credentials, Depends(presented("payments:write"))],
    idempotency_key: Annotated[
        str | None, Header(max_length=255, description="Same key + same body: same payment")
    ] = None,
) -> dict[str, Any]:
    """Create a payment order (the seed's body); answers the deposit address and link."""
    raw = await request.body()
    state = request.app.state
    try:  # parsed here, while the writer works; a bad body is answered after the caller check
        body: CreateOrder | None = _parsed(raw)
        bad: _InvalidBody | None = None
    except _InvalidBody as exc:
        body, bad = None, exc
    rates = state.rates_for_chain
    if body is not None and body.pricing_currency is not None:  # any RPC before the batch
        rates = await asyncio.to_thread(lock_rate, state.config, body, rates)

    def write(session: Session, memo: dict[Any, Any]) -> tuple[Any, Any, bool]:
        # the caller first (401/429/403 before a body problem), in the order's savepoint
        who = authorize(session, state, credentials, memo)
        if bad is not None:
            raise bad
        assert body is not None
        result = create_order(
            session,
            body,
            config=state.config,
            caller=who,
            idempotency_key=idempotency_key,
            rates_for_chain=rates,
            index_pool=state.index_pool,
            insert_at_commit=True,  # with the batch's other rows, one statement per table
        )
        return result.request, result.order, result.created

    job = OrderJob(
        write,
        fingerprint=index_fingerprint(state.config, body) if body is not None else None,
        keyed=idempotency_key is not None,  # a retry of it replays rather than duplicates
    )
    # committed with the other orders of its batch (``order_writer``) before it is answered
    row, order, created = await asyncio.wrap_future(state.order_writer.submit(job))
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return _view(request, row, order)


def _parsed(raw: bytes) -> CreateOrder:
    try:
        return CreateOrder.model_validate(parse_json(raw))
    except ValueError as exc:  # JSON or pydantic
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"msg": str(exc)}]
        raise _InvalidBody(errors) from exc


class _InvalidBody(Exception):
    def __init__(self, errors: Any) -> None:
        super().__init__("invalid body")
        self.errors = errors


def install_body_errors(app: Any) -> None:
    @app.exception_handler(_InvalidBody)
    async def _handler(request: Request, exc: _InvalidBody) -> Response:
        return invalid_body(request, exc.errors)


@router.get("", response_model=PaymentPage, responses=_ERRORS)
def list_all(
    request: Request,
    _who: Annotated[Caller, Depends(require("payments:read"))],
    status: Literal["new", "detected", "confirmed", "completed", "expired", "invalid"]
    | None = None,
    source: Literal["api", "erp"] | None = None,
    erp_system: Annotated[str | None, Query(max_length=32)] = None,
    invoice_id: Annotated[str | None, Query(max_length=128)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """Payments newest first, API orders and ERP invoices' requests alike, filtered, paged."""
    for moment in (created_from, created_to):
        if moment is not None and moment.tzinfo is None:
            raise ApiProblem(400, "Naive timestamp", "give created_from/created_to with a zone")
    filters = Filters(status, source, erp_system, invoice_id, created_from, created_to)
    with transaction(request.app.state.engine) as session:
        rows, following = list_payments(session, filters, limit, cursor)
        data = [_view(request, row, order) for row, order in rows]
    return {"data": data, "next_cursor": following}


@router.get("/{payment_id}", response_model=Payment, responses=_ERRORS)
def get_one(
    request: Request,
    payment_id: str,
    _who: Annotated[Caller, Depends(require("payments:read"))],
) -> dict[str, Any]:
    """One payment: status, amounts, deposit details, link."""
    with transaction(request.app.state.engine) as session:
        row, order = get_payment(session, payment_id)
        return _view(request, row, order)


@router.post("/{payment_id}/cancel", response_model=Payment, responses=_ERRORS)
def cancel(
    request: Request,
    payment_id: str,
    who: Annotated[Caller, Depends(require("payments:write"))],
) -> dict[str, Any]:
    """Cancel a payment nothing was paid to (it becomes invalid, marked, audited)."""
    with transaction(request.app.state.engine) as session:
        cancel_payment(session, payment_id, actor=who.actor)
        row, order = get_payment(session, payment_id)
        return _view(request, row, order)


def _qr_data(request: Request, payment_id: str) -> tuple[str, str]:
    with transaction(request.app.state.engine) as session:
        row, _order = get_payment(session, payment_id)
        amount = describe_amount(row.amount_due, row.asset_decimals, row.asset_symbol)
        return row.payment_uri, amount


@router.get(
    "/{payment_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, 404: _PROBLEM},
)
def qr_code_svg(request: Request, payment_id: str) -> Response:
    """The payment link as an SVG QR code, titled with the human amount (public: the payer's)."""
    uri, amount = _qr_data(request, payment_id)
    return Response(qr_svg(uri, title=f"Pay {amount}"), media_type="image/svg+xml")


@router.get(
    "/{payment_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: _PROBLEM},
)
def qr_code_png(request: Request, payment_id: str) -> Response:
    """The payment link as a PNG QR code (public: the payer's)."""
    uri, _amount = _qr_data(request, payment_id)
    return Response(qr_png(uri), media_type="image/png")
