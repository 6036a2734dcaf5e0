"""`paybridge exceptions list | show`: the exceptions queue as people read it (token amounts
with the symbol, the shortfall of an underpayment, full ids) and the evidence behind one
exception (transaction and explorer link, the request, what the engine tried, resolutions).

Wired by ``paybridge.cli.reconcile_store.register``.
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
    TokenBook,
    cell,
    page_notice,
    parse_amount_option,
    print_fields,
    print_table,
    say,
    table,
)
from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.domain.amounts import format_fiat
from paybridge.domain.money import base_units_to_fiat
from paybridge.store.models import PaymentRequest
from paybridge.store.models.reconciliation import (
    EXCEPTION_STATUSES,
    ExceptionResolution,
    ReconException,
    ReconMatch,
)


def token_of(exc: ReconException, request: PaymentRequest | None, book: TokenBook) -> Token | None:
    """The exception's token: its request's (symbol and decimals fixed at quote time), else
    the configured asset of its transfer."""
    if request is not None:
        return Token(request.asset_symbol, request.asset_decimals)
    return book.get(exc.chain_id, exc.asset)


def _units(value: int | None, token: Token | None, asset: str | None) -> str:
    if value is None:
        return ""
    if token is None:
        return f"{value} base units of {asset or 'an unknown asset'}"
    return token.show(value)


def exception_view(
    exc: ReconException, request: PaymentRequest | None, book: TokenBook
) -> dict[str, Any]:
    """One exception for people and machines: base units under ``*_base_units``, the same
    amounts as text under ``*_display``. ``amount`` is what the transfer carried (0 for an
    underpayment, which carries none); ``shortfall`` is what is still due."""
    token = token_of(exc, request, book)
    shortfall = exc.remaining_due if exc.reason == "UNDERPAID" else None
    view: dict[str, Any] = {
        "exception_id": exc.exception_id,
        "status": exc.status,
        "reason": exc.reason,
        "request_id": exc.request_id or "",
        "customer_id": exc.customer_id or "",
        "chain_id": exc.chain_id,
        "tx_hash": exc.tx_hash or "",
        "event_key": exc.event_key or "",
        "asset": exc.asset or "",
        "asset_symbol": token.symbol if token else None,
        "asset_decimals": token.decimals if token else None,
        "from_address": exc.from_address or "",
        "amount_base_units": str(exc.amount),
        "amount_display": _units(exc.amount, token, exc.asset),
        "remaining_due_base_units": "" if exc.remaining_due is None else str(exc.remaining_due),
        "remaining_due_display": _units(exc.remaining_due, token, exc.asset),
        "shortfall_display": _units(shortfall, token, exc.asset),
        "suggested_action": exc.suggested_action,
        "note": exc.resolution_note or "",
    }
    if shortfall is not None and request is not None:
        fiat = base_units_to_fiat(
            shortfall, request.rate_price, request.asset_decimals, request.currency
        )
        view["shortfall_invoice_currency"] = format_fiat(fiat, request.currency)
    return view


def _requests(session: Session, ids: set[str]) -> dict[str, PaymentRequest]:
    if not ids:
        return {}
    found = session.scalars(sa.select(PaymentRequest).where(PaymentRequest.id.in_(ids)))
    return {r.id: r for r in found}


def exceptions_list(
    status: Annotated[
        str | None, typer.Option("--status", help="open, proposed or resolved.")
    ] = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    json_output: JsonOption = False,
) -> None:
    """The exceptions queue, oldest first: amounts in token units (an underpayment shows its
    shortfall); `--json` has base units too."""
    if status is not None and status not in EXCEPTION_STATUSES:
        fail(f"--status {status!r}: use open, proposed or resolved", code=USAGE_ERROR)
    cfg = config()
    book = TokenBook(cfg)
    query = sa.select(ReconException)
    if status is not None:
        query = query.where(ReconException.status == status)
    with Session(engine(cfg)) as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(ReconException.created_at, ReconException.exception_id)
            .offset(offset)
            .limit(limit)
        ).all()
        requests = _requests(session, {r.request_id for r in rows if r.request_id})
        views = [exception_view(r, requests.get(r.request_id or ""), book) for r in rows]
    if json_output:
        print_json(views)
    else:
        grid = table(
            f"{total} exceptions",
            "exception / request",
            "status / reason",
            "amount",
            "suggested action",
            ids=("exception / request",),
            keep=("status / reason",),
        )
        for view in views:
            amount = view["amount_display"]
            if view["reason"] == "UNDERPAID":
                amount = f"short {view['shortfall_display']}"
            grid.add_row(
                cell(view["exception_id"], view["request_id"] or "(no request)"),
                cell(view["status"], view["reason"]),
                shown(amount),
                shown(view["suggested_action"]),
            )
        print_table(grid, "no exceptions match")
    page_notice("exceptions", len(views), total, offset, limit)


def _explorer(cfg: PayBridgeConfig, chain_id: int | None, tx_hash: str | None) -> str | None:
    if chain_id is None or not tx_hash:
        return None
    try:
        return cfg.chain(chain_id).explorer_link(tx_hash)
    except ConfigError:
        return None


def exception_detail(cfg: PayBridgeConfig, exception_id: str) -> dict[str, Any] | None:
    """The exception with its evidence: the transfer (and its explorer link), the request,
    what the engine decided about the same transfer (its matches) and every resolution."""
    book = TokenBook(cfg)
    with Session(engine(cfg)) as session:
        exc = session.get(ReconException, exception_id)
        if exc is None:
            return None
        request = session.get(PaymentRequest, exc.request_id) if exc.request_id else None
        token = token_of(exc, request, book)
        view = exception_view(exc, request, book)
        view.update(
            block_time=exc.block_time or "",
            to_address=exc.to_address or "",
            explorer_link=_explorer(cfg, exc.chain_id, exc.tx_hash),
            engine_detail=exc.detail,
            first_run_id=exc.first_run_id,
            last_run_id=exc.last_run_id,
            created_at=exc.created_at.isoformat(),
            updated_at=exc.updated_at.isoformat(),
        )
        view["request"] = None if request is None else _request_evidence(request)
        view["engine_matches"] = _matches(session, exc, token)
        view["resolutions"] = [
            {
                "resolution_id": r.resolution_id,
                "action": r.action,
                "state": r.state,
                "amount_base_units": str(r.amount),
                "amount_display": _units(r.amount, token, exc.asset),
                "proposed_by": r.proposed_by,
                "proposed_at": r.proposed_at.isoformat(),
                "decided_by": r.decided_by or None,
                "reason": r.reason,
                "settlement_id": r.settlement_id,
            }
            for r in session.scalars(
                sa.select(ExceptionResolution)
                .where(ExceptionResolution.exception_id == exception_id)
                .order_by(ExceptionResolution.proposed_at, ExceptionResolution.resolution_id)
            )
        ]
        return view


def _request_evidence(request: PaymentRequest) -> dict[str, Any]:
    token = Token(request.asset_symbol, request.asset_decimals)
    return {
        "id": request.id,
        "invoice": f"{request.erp_system}/{request.company}/{request.invoice_id}",
        "invoice_amount": format_fiat(request.invoice_amount, request.currency),
        "status": request.status,
        "deposit_address": request.deposit_address,
        "amount_due_base_units": str(request.amount_due),
        "amount_due_display": token.show(request.amount_due),
        "amount_received_base_units": str(request.amount_received),
        "amount_received_display": token.show(request.amount_received),
        "rate": f"{request.rate_price} {request.currency} per {request.asset_symbol}",
    }


def _matches(session: Session, exc: ReconException, token: Token | None) -> list[dict[str, Any]]:
    """What the engine did with the same transfer (or for the same request, when the
    exception has no transfer) in the run that last raised the exception."""
    query = sa.select(ReconMatch).where(ReconMatch.run_id == exc.last_run_id)
    if exc.tx_hash:
        query = query.where(ReconMatch.tx_hash == exc.tx_hash, ReconMatch.chain_id == exc.chain_id)
        if exc.event_key:
            query = query.where(ReconMatch.event_key == exc.event_key)
    elif exc.request_id:
        query = query.where(ReconMatch.request_id == exc.request_id)
    else:
        return []
    return [
        {
            "request_id": m.request_id,
            "tx_hash": m.tx_hash,
            "rule": m.rule,
            "decision": m.decision,
            "amount_applied_base_units": str(m.amount_applied),
            "amount_applied_display": _units(m.amount_applied, token, exc.asset),
            "explanation": m.explanation,
        }
        for m in session.scalars(query.order_by(ReconMatch.id))
    ]


def exceptions_show(
    exception_id: Annotated[str, typer.Argument(help="EX-... from `paybridge exceptions list`.")],
    json_output: JsonOption = False,
) -> None:
    """One exception with its evidence: the transaction and its explorer link, the request,
    what the engine tried (its detail and matches) and every proposed resolution."""
    cfg = config()
    view = exception_detail(cfg, exception_id)
    if view is None:
        fail(f"no exception {exception_id!r}", "list them with `paybridge exceptions list`")
    if json_output:
        print_json(view)
        return
    nested = ("request", "engine_matches", "resolutions")
    hidden = {"amount_base_units", "remaining_due_base_units", "asset_decimals"}
    flat = {
        k: v for k, v in view.items() if k not in nested and k not in hidden and v not in ("", None)
    }
    print_fields(flat, 26)
    if view["request"]:
        console.print("[bold]request[/]")
        print_fields(view["request"], 26)
    for match in view["engine_matches"]:
        say(
            f"engine: {match['decision']} by rule {match['rule']}, applied "
            f"{match['amount_applied_display']} to {match['request_id']}: "
            f"{match['explanation']}"
        )
    if not view["engine_matches"]:
        console.print("engine: no match for this transfer (see engine_detail)", highlight=False)
    for res in view["resolutions"]:
        decided = f", decided by {res['decided_by']}" if res["decided_by"] else ""
        say(
            f"resolution {res['resolution_id']}: {res['action']} {res['amount_display']} "
            f"{res['state']} (proposed by {res['proposed_by']}{decided})"
        )


def amount_for(
    cfg: PayBridgeConfig, exception_id: str, text: str | None, option: str
) -> int | None:
    """``--amount`` of a resolution in the exception's own token (or explicit base units)."""
    if text is None:
        return None
    with Session(engine(cfg)) as session:
        exc = session.get(ReconException, exception_id)
        if exc is None:
            fail(
                f"exception {exception_id!r} is not in the queue",
                "list them with `paybridge exceptions list`",
            )
        request = session.get(PaymentRequest, exc.request_id) if exc.request_id else None
        token = token_of(exc, request, TokenBook(cfg))
    return parse_amount_option(text, token, option)


def resolution_text(cfg: PayBridgeConfig, exception_id: str, base_units: int | str) -> str:
    """A resolution's amount in the exception's token (explicit base units if unknown)."""
    with Session(engine(cfg)) as session:
        exc = session.get(ReconException, exception_id)
        if exc is None:
            return f"{base_units} base units"
        request = session.get(PaymentRequest, exc.request_id) if exc.request_id else None
        return _units(int(base_units), token_of(exc, request, TokenBook(cfg)), exc.asset)
