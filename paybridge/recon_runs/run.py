"""Reconcile the store: export, run the engine, persist the run, settle what is settled.

Every run proves conservation per receipt and per request (``conservation.py``) before it
settles anything; a run that would break it fails, naming the transfer, and commits nothing.

One database transaction per run, serialised (PostgreSQL advisory lock; SQLite's single
writer, taken by the first statement): a crash leaves nothing half written, and two runs
never both complete a request or queue its settlement. Re-running is idempotent: completed
requests are never settled again and the outbox refuses a second row for the same id.
"""

from __future__ import annotations

import gc
import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.identity import log_index_of
from paybridge_reconciliation.inputs import read_rates, read_receipts, read_requests
from paybridge_reconciliation.result import ReconResult, reconcile
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.config import PayBridgeConfig
from paybridge.domain.audit_events import AuditEvent
from paybridge.domain.settlements import Settlement
from paybridge.recon_runs.conservation import check_conservation
from paybridge.recon_runs.export import (
    file_hashes,
    load_inputs,
    with_registry_classes,
    write_inputs,
)
from paybridge.recon_runs.queue import sync_exceptions
from paybridge.recon_runs.settle import account_roles, settlement_from_journals
from paybridge.requests.lifecycle import FINAL, Status, transition
from paybridge.settlement_outbox import Queued, enqueue_many
from paybridge.settlement_routing import Route, routes_for
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.models.reconciliation import ReconMatch, ReconRun

PAID_STATUSES = frozenset({"paid", "paid_within_tolerance", "overpaid"})
RUN_LOCK_KEY = 0x5042_5245_434F  # "PBRECO": one reconciliation at a time per database
#: the lifecycle path from each open status to completed (every step audited)
PATH_TO_COMPLETED: dict[str, tuple[Status, ...]] = {
    Status.NEW: (Status.DETECTED, Status.CONFIRMED, Status.COMPLETED),
    Status.EXPIRED: (Status.DETECTED, Status.CONFIRMED, Status.COMPLETED),
    Status.DETECTED: (Status.CONFIRMED, Status.COMPLETED),
    Status.CONFIRMED: (Status.COMPLETED,),
}


@dataclass
class RunSummary:
    run_id: str
    as_of: str
    engine_version: str
    requests: int
    receipts: int
    matches: int
    matches_auto: int
    exceptions: int
    exceptions_open: int
    completed: list[str] = field(default_factory=list)
    settlements_enqueued: list[str] = field(default_factory=list)
    #: settlements recorded but not postable: {settlement_id, request_id, connection, reason}
    settlements_not_postable: list[dict[str, str]] = field(default_factory=list)
    awaiting_finality: list[str] = field(default_factory=list)
    input_sha256: dict[str, str] = field(default_factory=dict)
    #: receipts and requests whose money was proven accounted for (see conservation.py)
    conserved_receipts: int = 0
    conserved_requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def lock_run(session: Session) -> None:
    """Serialise reconciliation runs; must be the transaction's first statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(RUN_LOCK_KEY)))
    else:  # a write as first statement takes SQLite's write lock (waiting on busy_timeout)
        session.execute(sa.update(ReconRun).where(sa.false()).values(actor=ReconRun.actor))


def run_engine(
    session: Session, workdir: Path, config: ReconConfig, as_of: datetime | None
) -> tuple[ReconResult, dict[str, str], dict[tuple[str, str, str], str]]:
    """Export inputs as the engine's CSVs, read them back with its readers, reconcile."""
    inputs = load_inputs(session, as_of)
    paths = write_inputs(inputs, workdir)
    result = reconcile(
        read_requests(paths["requests"]),
        read_receipts(paths["receipts"]),
        read_rates(paths["rates"], config.rate_scale),
        config,
        as_of,
    )
    receipts = inputs.receipts
    columns = ("chain_id", "tx_hash", "event_key", "status")  # a column at a time: see _records
    chain_ids, tx_hashes, event_keys, statuses = (receipts[c].tolist() for c in columns)
    states = dict(zip(zip(chain_ids, tx_hashes, event_keys, strict=True), statuses, strict=True))
    return result, file_hashes(paths), states


def reconcile_store(
    engine: Engine,
    cfg: PayBridgeConfig,
    *,
    recon_config: ReconConfig | None = None,
    as_of: datetime | None = None,
    actor: str = "reconciler",
    step: Callable[[str], None] | None = None,
) -> RunSummary:
    note = step or (lambda _msg: None)
    config = with_registry_classes(recon_config or ReconConfig(), cfg)
    started = datetime.now(UTC)
    run_id = f"run-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    with (
        _fewer_collections(),
        transaction(engine) as session,
        tempfile.TemporaryDirectory() as tmp,
    ):
        lock_run(session)
        note("exporting requests and receipts")
        result, hashes, states = run_engine(session, Path(tmp), config, as_of)
        note("recording the run")
        matches = result.matches
        summary = RunSummary(
            run_id=run_id,
            as_of=result.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
            engine_version=result.engine_version,
            requests=len(result.requests_status),
            receipts=len(states),
            matches=len(matches),
            matches_auto=int((matches["decision"] == "auto").sum()),
            exceptions=len(result.exceptions),
            exceptions_open=0,
            input_sha256=hashes,
        )
        session.add(_run_row(summary, started, actor, config, hashes))
        session.flush()
        if len(matches):  # one bulk INSERT (executemany), not an ORM object and INSERT each
            table = ReconMatch.__table__  # Core: the ORM bulk path costs more per row
            session.connection().execute(sa.insert(table), _match_rows(run_id, matches))
        note("updating the exceptions queue")
        summary.exceptions_open = sync_exceptions(session, run_id, result.exceptions, started)
        note("checking that every transfer is accounted for")
        proof = check_conservation(session, matches, result.exceptions, as_of)
        summary.conserved_receipts, summary.conserved_requests = proof.receipts, len(proof.requests)
        note("settling paid requests")
        _settle(session, cfg, config, result, states, summary, actor)
        run = session.get(ReconRun, run_id)
        assert run is not None
        run.completed = len(summary.completed)
        run.settlements_enqueued = len(summary.settlements_enqueued)
        run.awaiting_finality = len(summary.awaiting_finality)
        audit.append(
            session,
            [
                AuditEvent(
                    actor=actor,
                    entity_type="reconciliation_run",
                    entity_id=run_id,
                    action="run",
                    after=_audit_summary(summary),
                )
            ],
        )
    return summary


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """A run keeps a few hundred thousand objects alive (frames, rows, settlements, audit
    events); with the default thresholds the cyclic collector walks all of them again every
    few thousand allocations: a fifth of the CPU of a 5,000-request run. During the run it
    collects less often (still collects: thresholds, not disabled); the old thresholds are
    restored afterwards. Process-wide, like every gc setting, for the run's duration."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _audit_summary(summary: RunSummary) -> dict[str, Any]:
    """Counts and hashes (each settlement and status change has its own audit entry)."""
    lists = ("completed", "settlements_enqueued", "settlements_not_postable", "awaiting_finality")
    # not as_dict(): asdict deep-copies the lists (one entry per settled request) to drop them
    data = {f.name: getattr(summary, f.name) for f in fields(summary) if f.name not in lists}
    return data | {k: len(getattr(summary, k)) for k in lists}


def _run_row(
    summary: RunSummary,
    started: datetime,
    actor: str,
    config: ReconConfig,
    hashes: dict[str, str],
) -> ReconRun:
    return ReconRun(
        run_id=summary.run_id,
        started_at=started,
        as_of=datetime.strptime(summary.as_of, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        actor=actor,
        engine_version=summary.engine_version,
        config_sha256=hashlib.sha256(config.canonical_json().encode()).hexdigest(),
        requests_sha256=hashes["requests"],
        receipts_sha256=hashes["receipts"],
        rates_sha256=hashes["rates"],
        requests=summary.requests,
        receipts=summary.receipts,
        matches=summary.matches,
        matches_auto=summary.matches_auto,
        exceptions=summary.exceptions,
        completed=0,
        settlements_enqueued=0,
        awaiting_finality=0,
    )


def _match_rows(run_id: str, matches: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "request_id": str(m["request_id"]),
            "chain_id": int(m["chain_id"]),
            "tx_hash": str(m["tx_hash"]),
            "event_key": str(m["event_key"]),
            "log_index": log_index_of(str(m["event_key"])),
            "block_number": int(m["block_number"]),
            "amount_applied": int(m["amount_applied"]),
            "rule": str(m["rule"]),
            "confidence": str(m["confidence"]),
            "decision": str(m["decision"]),
            "paid_late": bool(m["paid_late"]),
            "fair_value": str(m["fair_value"]),
            "rate": str(m["rate"]),
            "rate_source": str(m["rate_source"]),
            "explanation": str(m["explanation"]),
        }
        for m in _records(matches)
    ]


def _final_enough(
    request: PaymentRequest,
    matches: list[dict[str, Any]],
    states: dict[tuple[str, str, str], str],
    cfg: PayBridgeConfig,
) -> bool:
    """Settlement policy: small payments settle once confirmed, large ones once finalized."""
    if request.invoice_amount < cfg.settlement_policy.confirmed_max_amount:
        return True
    return all(
        states.get((str(m["chain_id"]), str(m["tx_hash"]), str(m["event_key"]))) == "finalized"
        for m in matches
    )


def _by_request(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in _records(frame):
        grouped.setdefault(str(record["request_id"]), []).append(record)
    return grouped


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")``, a column at a time: iterating Arrow-backed columns value
    by value is most of to_dict's time. A frame with missing values takes pandas' own path (it
    gives pandas' NA markers, ``tolist`` gives None)."""
    if frame.isna().to_numpy().any():
        return frame.to_dict("records")
    names = [str(name) for name in frame.columns]
    columns = [frame[name].tolist() for name in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _load_requests(session: Session, ids: list[str]) -> dict[str, PaymentRequest]:
    found: dict[str, PaymentRequest] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = sa.select(PaymentRequest).where(PaymentRequest.id.in_(chunk))
        found.update({r.id: r for r in session.scalars(query)})
    return found


def _settle(
    session: Session,
    cfg: PayBridgeConfig,
    config: ReconConfig,
    result: ReconResult,
    states: dict[tuple[str, str, str], str],
    summary: RunSummary,
    actor: str,
) -> None:
    status = result.requests_status
    paid = status[status["status"].isin(PAID_STATUSES)]
    auto = _by_request(result.matches[result.matches["decision"] == "auto"])
    journals = _by_request(result.journals)
    requests = _load_requests(session, [str(r) for r in paid["request_id"]])
    roles = account_roles(config)
    routes = routes_for(session, list(requests.values()))
    # first every settlement of this run, then one outbox write for all of them (chunked
    # lookups, one bulk insert), then the audit events in the order of the paid requests
    due: list[tuple[Any, PaymentRequest, list[dict[str, Any]], Settlement, Route]] = []
    for row in paid.itertuples(index=False):
        request = requests.get(str(row.request_id))
        if request is None or request.status in FINAL:
            continue  # settled before (or voided): never twice
        own, lines = auto.get(request.id, []), journals.get(request.id, [])
        if not own or not lines:
            continue
        if not _final_enough(request, own, states, cfg):
            summary.awaiting_finality.append(request.id)
            continue
        settlement, route = routes[request.id].prepare(
            settlement_from_journals(request, lines, own, config, roles), cfg.fx_rate
        )
        due.append((row, request, own, settlement, route))
    queued = enqueue_many(
        session, [Queued(s, route.connection, route.refusal) for _, _, _, s, route in due]
    )
    events: list[AuditEvent] = []
    for (row, request, own, settlement, route), is_new in zip(due, queued, strict=True):
        if is_new:
            why = f"reconciliation {summary.run_id}: request {request.id} {row.status}"
            if route.postable:
                summary.settlements_enqueued.append(settlement.settlement_id)
            else:
                why = f"{why}; not postable: {route.refusal}"
                summary.settlements_not_postable.append(
                    {
                        "settlement_id": settlement.settlement_id,
                        "request_id": request.id,
                        "connection": route.connection,
                        "category": str(route.category),
                        "reason": str(route.refusal),
                    }
                )
            events.append(
                AuditEvent(
                    actor=actor,
                    entity_type="settlement",
                    entity_id=settlement.settlement_id,
                    action="enqueue" if route.postable else "not_postable",
                    after={"connection": route.connection, **settlement.to_json()},
                    reason=why,
                )
            )
        rules = ", ".join(sorted({str(m["rule"]) for m in own}))
        reason = f"reconciliation {summary.run_id}: {row.status} ({rules})"
        for target in PATH_TO_COMPLETED[Status(request.status)]:
            flags = None
            if target == Status.COMPLETED:
                flags = {
                    "paid_partial": False,
                    "paid_over": _truthy(row.paid_over),
                    "paid_late": _truthy(row.paid_late) or request.paid_late,
                }
            events.append(transition(request, target, actor=actor, reason=reason, flags=flags))
        summary.completed.append(request.id)
    audit.append(session, events)


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in {"true", "1"}


__all__ = ["PAID_STATUSES", "RunSummary", "reconcile_store"]
