"""Exception workflow on the store: propose, approve, reject under maker-checker.

The rules are ``paybridge_reconciliation.workflow.ResolutionBook``'s (proposer cannot decide,
amounts bounded by what is unresolved, same proposal -> same id); this module loads a book for one
exception from the store, runs the step, writes the resolution back and appends the book's
audit events to the hash-chained log, all in one transaction that first locks the exception.
An approved *apply* (or write-off of an underpayment) settles the request through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.workflow import (
    RESOLUTION_COLUMNS,
    Action,
    Resolution,
    ResolutionBook,
    ResolutionState,
    WorkflowError,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.domain.audit_events import AuditEvent
from paybridge.recon_runs.export import asset_key
from paybridge.recon_runs.manual_settle import ReceivedPart, manual_settlement
from paybridge.requests.lifecycle import FINAL, Status, transition
from paybridge.settlement_outbox import enqueue
from paybridge.settlement_routing import FxRate, route_for
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.models.chain import ChainReceipt
from paybridge.store.models.reconciliation import (
    ExceptionResolution,
    ReconException,
    ReconMatch,
    ReconRun,
)

CLI_ACTIONS = {
    "apply": Action.APPLY,
    "write-off": Action.WRITE_OFF,
    "credit": Action.CUSTOMER_CREDIT,
    "refund": Action.REFUND,
}


@dataclass(frozen=True)
class Outcome:
    resolution: dict[str, str]
    exception_status: str
    settlement_id: str | None = None
    #: why the approved settlement cannot be posted to an ERP (None: queued for posting)
    settlement_not_postable: str | None = None


def _row(res: Resolution) -> dict[str, str]:
    return {**res.as_row(), "refund_address": res.refund_address}


def _lock_exception(session: Session, exception_id: str) -> ReconException:
    """Row lock on PostgreSQL, write lock on SQLite: one decision at a time per exception."""
    session.execute(
        sa.update(ReconException)
        .where(ReconException.exception_id == exception_id)
        .values(updated_at=ReconException.updated_at)
    )
    found = session.get(ReconException, exception_id)
    if found is None:
        raise WorkflowError(f"exception {exception_id!r} is not in the queue")
    return found


def _resolvable_units(exc: ReconException) -> int:
    """An underpayment carries no receipt money; what it resolves is the remaining due."""
    return (exc.remaining_due or 0) if exc.reason == "UNDERPAID" else exc.amount


def _book(session: Session, exc: ReconException) -> ResolutionBook:
    frame = pd.DataFrame(
        [{"exception_id": exc.exception_id, "amount": str(_resolvable_units(exc))}]
    )
    rows = session.scalars(
        sa.select(ExceptionResolution).where(ExceptionResolution.exception_id == exc.exception_id)
    )
    resolutions = {
        r.resolution_id: Resolution(
            resolution_id=r.resolution_id,
            exception_id=r.exception_id,
            action=Action(r.action),
            amount=r.amount,
            proposed_by=r.proposed_by,
            proposed_at=r.proposed_at,
            request_id=r.request_id,
            reason=r.reason,
            refund_address=r.refund_address,
            state=ResolutionState(r.state),
            approved_by=r.decided_by,
            decided_at=r.decided_at,
        )
        for r in rows
    }
    return ResolutionBook(frame, resolutions=resolutions)


def _save(session: Session, res: Resolution) -> ExceptionResolution:
    row = session.get(ExceptionResolution, res.resolution_id)
    if row is None:
        row = ExceptionResolution(resolution_id=res.resolution_id, settlement_id=None)
        session.add(row)
    row.exception_id = res.exception_id
    row.action = res.action.value
    row.amount = res.amount
    row.request_id = res.request_id
    row.reason = res.reason
    row.refund_address = res.refund_address
    row.state = res.state.value
    row.proposed_by = res.proposed_by
    row.proposed_at = res.proposed_at
    row.decided_by = res.approved_by
    row.decided_at = res.decided_at
    return row


def _refresh_status(book: ResolutionBook, exc: ReconException, now: datetime) -> None:
    states = [r.state for r in book.resolutions.values()]
    approved = sum(
        r.amount for r in book.resolutions.values() if r.state == ResolutionState.APPROVED
    )
    if approved and approved >= _resolvable_units(exc):
        exc.status, exc.resolution_note = "resolved", "resolved by approved resolutions"
    elif ResolutionState.PROPOSED in states:
        exc.status = "proposed"
    else:
        exc.status = "open"
    exc.updated_at = now


def propose(
    engine: Engine,
    exception_id: str,
    action: str | Action,
    by: str,
    *,
    amount: int | None = None,
    request_id: str = "",
    reason: str = "",
    refund_address: str = "",
) -> Outcome:
    """The maker's step. Amount defaults to everything still unresolved on the exception."""
    chosen = CLI_ACTIONS.get(str(action)) or Action(action)
    with transaction(engine) as session:
        exc = _lock_exception(session, exception_id)
        if exc.status == "resolved":
            raise WorkflowError(f"exception {exception_id} is already resolved")
        if chosen == Action.REFUND and not refund_address:
            refund_address = exc.from_address or ""
        if chosen == Action.APPLY and not request_id:
            request_id = exc.request_id or ""
        book = _book(session, exc)
        units = (
            amount
            if amount is not None
            else _resolvable_units(exc) - book.committed(exc.exception_id)
        )
        res = book.propose(
            exception_id,
            chosen,
            units,
            by=by,
            request_id=request_id,
            reason=reason,
            refund_address=refund_address,
        )
        if chosen == Action.APPLY:
            _check_applicable(session, exc, res.request_id)
        _save(session, res)
        _refresh_status(book, exc, res.proposed_at)
        audit.append(session, book.events)
        return Outcome(_row(res), exc.status)


def _check_applicable(session: Session, exc: ReconException, request_id: str) -> PaymentRequest:
    request = session.get(PaymentRequest, request_id)
    if request is None:
        raise WorkflowError(f"apply: payment request {request_id!r} does not exist")
    if request.status in FINAL:
        raise WorkflowError(f"apply: payment request {request_id} is already {request.status}")
    if exc.tx_hash is None:
        raise WorkflowError(f"apply: exception {exc.exception_id} has no receipt to apply")
    if exc.chain_id != request.chain_id or exc.asset != asset_key(request.asset_address):
        raise WorkflowError(
            f"apply: exception {exc.exception_id} is {exc.asset} on chain {exc.chain_id} but "
            f"request {request_id} is {asset_key(request.asset_address)} on chain "
            f"{request.chain_id}; value it and settle by hand in the ERP"
        )
    return request


def _resolution_of(session: Session, ident: str) -> tuple[ReconException, str]:
    """Accept a resolution id, or an exception id with exactly one pending proposal."""
    if ident.startswith("RES-"):
        row = session.get(ExceptionResolution, ident)
        if row is None:
            raise WorkflowError(f"unknown resolution {ident!r}")
        return _lock_exception(session, row.exception_id), ident
    exc = _lock_exception(session, ident)
    pending = session.scalars(
        sa.select(ExceptionResolution.resolution_id).where(
            ExceptionResolution.exception_id == ident,
            ExceptionResolution.state == ResolutionState.PROPOSED.value,
        )
    ).all()
    if len(pending) != 1:
        raise WorkflowError(
            f"exception {ident} has {len(pending)} pending proposals; name the resolution id"
        )
    return exc, pending[0]


def _applied_parts(session: Session, request_id: str) -> list[ReceivedPart]:
    """What the latest run auto-applied to the request, per transfer, with its block time."""
    latest = session.scalar(sa.select(ReconRun.run_id).order_by(ReconRun.started_at.desc()))
    rows = session.scalars(
        sa.select(ReconMatch).where(
            ReconMatch.run_id == latest,
            ReconMatch.request_id == request_id,
            ReconMatch.decision == "auto",
        )
    ).all()
    return [
        ReceivedPart(
            _transfer(r.tx_hash, r.event_key),
            r.amount_applied,
            _block_time(session, r.chain_id, r.tx_hash, r.event_key),
        )
        for r in rows
    ]


def _block_time(session: Session, chain_id: int, tx_hash: str, event_key: str | None) -> datetime:
    found = session.scalar(
        sa.select(ChainReceipt.block_timestamp).where(
            ChainReceipt.chain_id == chain_id,
            ChainReceipt.tx_hash == tx_hash,
            ChainReceipt.event_key == (event_key or "tx"),
            ChainReceipt.direction == "in",
        )
    )
    if found is None:
        raise WorkflowError(
            f"receipt {tx_hash} {event_key} on chain {chain_id} is not in the store: cannot "
            "value it at its block time (run the chain watcher, then decide again)"
        )
    return found


def _transfer(tx_hash: str, event_key: str | None) -> str:
    return f"{tx_hash}:{event_key}" if event_key else tx_hash


def _settle(
    session: Session,
    exc: ReconException,
    res: Resolution,
    recon_config: ReconConfig,
    fx_rate: FxRate,
) -> tuple[str | None, list[AuditEvent], str | None]:
    """Approved apply / underpayment write-off -> settlement in the outbox, request completed."""
    if res.action == Action.APPLY:
        request = _check_applicable(session, exc, res.request_id)
        mine = ReceivedPart(
            _transfer(exc.tx_hash or "", exc.event_key),
            res.amount,
            _block_time(session, exc.chain_id or 0, exc.tx_hash or "", exc.event_key),
        )
        parts, write_off = [*_applied_parts(session, request.id), mine], None
    elif res.action == Action.WRITE_OFF and exc.reason == "UNDERPAID" and exc.request_id:
        request = session.get(PaymentRequest, exc.request_id)
        if request is None or request.status in FINAL:
            return None, [], None
        parts = _applied_parts(session, request.id)
        write_off = res.reason
        if not parts:
            return None, [], None
    else:
        return None, [], None
    settlement = manual_settlement(
        session,
        request,
        f"pb-{res.resolution_id}",
        parts,
        asset_class=recon_config.asset_class(asset_key(request.asset_address)),
        write_off_reason=write_off,
    )
    settlement, route = route_for(session, request).prepare(settlement, fx_rate)
    enqueue(session, settlement, route.connection, route.refusal)
    why = (
        f"exception {exc.exception_id} {res.action.value} {res.resolution_id}: proposed by "
        f"{res.proposed_by}, approved by {res.approved_by}"
    )
    events = [
        AuditEvent(
            actor=res.approved_by,
            entity_type="settlement",
            entity_id=settlement.settlement_id,
            action="enqueue" if route.postable else "not_postable",
            after={"connection": route.connection, **settlement.to_json()},
            reason=why if route.postable else f"{why}; not postable: {route.refusal}",
        ),
        transition(request, Status.COMPLETED, actor=res.approved_by, reason=why, manual=True),
    ]
    return settlement.settlement_id, events, route.refusal


def decide(
    engine: Engine,
    ident: str,
    by: str,
    *,
    approve: bool,
    recon_config: ReconConfig | None = None,
    fx_rate: FxRate = lambda currency, base: None,
) -> Outcome:
    """The checker's step (approve or reject); the proposer is refused (MakerCheckerError).
    ``recon_config`` gives the asset classes an approved settlement is booked under,
    ``fx_rate`` the rate to a company's base currency (``PayBridgeConfig.fx_rate``)."""
    with transaction(engine) as session:
        exc, resolution_id = _resolution_of(session, ident)
        book = _book(session, exc)
        was = book.resolutions[resolution_id].state
        res = book.approve(resolution_id, by) if approve else book.reject(resolution_id, by)
        row = _save(session, res)
        events = list(book.events)
        refusal = None
        if approve and was == ResolutionState.PROPOSED:
            row.settlement_id, settle_events, refusal = _settle(
                session, exc, res, recon_config or ReconConfig(), fx_rate
            )
            events += settle_events
        _refresh_status(book, exc, res.decided_at or res.proposed_at)
        audit.append(session, events)
        return Outcome(_row(res), exc.status, row.settlement_id, refusal)


def list_exceptions(engine: Engine, status: str | None = None) -> list[dict[str, object]]:
    with transaction(engine) as session:
        query = sa.select(ReconException).order_by(
            ReconException.created_at, ReconException.exception_id
        )
        if status:
            query = query.where(ReconException.status == status)
        return [
            {
                "exception_id": e.exception_id,
                "status": e.status,
                "reason": e.reason,
                "request_id": e.request_id or "",
                "customer_id": e.customer_id or "",
                "chain_id": e.chain_id,
                "tx_hash": e.tx_hash or "",
                "event_key": e.event_key or "",
                "asset": e.asset or "",
                "from_address": e.from_address or "",
                "amount": str(e.amount),
                "remaining_due": "" if e.remaining_due is None else str(e.remaining_due),
                "suggested_action": e.suggested_action,
                "note": e.resolution_note or "",
            }
            for e in session.scalars(query)
        ]


def resolutions_frame(engine: Engine) -> pd.DataFrame:
    """Manual resolutions (who proposed, who approved) for the auditor's workbook."""
    with transaction(engine) as session:
        rows = session.scalars(
            sa.select(ExceptionResolution).order_by(ExceptionResolution.resolution_id)
        ).all()
        return pd.DataFrame(
            [
                {
                    "resolution_id": r.resolution_id,
                    "exception_id": r.exception_id,
                    "action": r.action,
                    "request_id": r.request_id,
                    "amount": str(r.amount),
                    "reason": r.reason,
                    "proposed_by": r.proposed_by,
                    "approved_by": r.decided_by,
                    "state": r.state,
                }
                for r in rows
            ],
            columns=RESOLUTION_COLUMNS,
        )
