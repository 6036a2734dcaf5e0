"""Conservation, checked on every reconciliation of the store (issue 8): no money vanishes.

Per receipt in the store (an incoming transfer, identity chain id + tx hash + event key, up to
the run's ``as_of``): amount received = auto-applied by this run + in exceptions still open or
proposed + in exceptions resolved by a named person (approved resolutions: proposer and
approver named, maker-checker). Per request: what arrived at its deposit address against what
was applied to it and what of it is in the queue. The receipts are read from the store itself,
not from the engine's inputs, so an export or engine that merged two transfers is caught.
A run that would break this raises ``ConservationError`` naming each transfer; the run is one
transaction, so nothing of it is committed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.recon_runs.queue import queue_keys, resolved_by_machine
from paybridge.store.models.chain import ChainReceipt
from paybridge.store.models.reconciliation import ExceptionResolution, ReconException

Identity = tuple[int, str, str]  # chain id, tx hash (lowercase), event key


@dataclass(frozen=True)
class Unbalanced:
    """One transfer whose money is not fully accounted for."""

    chain_id: int
    tx_hash: str
    event_key: str
    request_id: str | None
    received: int
    applied: int
    open: int
    resolved: int

    def __str__(self) -> str:
        missing = self.received - self.applied - self.open - self.resolved
        owner = f" (request {self.request_id})" if self.request_id else ""
        return (
            f"chain {self.chain_id} tx {self.tx_hash} event {self.event_key}{owner}: received "
            f"{self.received} != applied {self.applied} + open exceptions {self.open} + resolved "
            f"by a person {self.resolved} (difference {missing} base units)"
        )


class ConservationError(ValueError):
    """The run would leave money unaccounted for; nothing of it was committed."""

    def __init__(self, transfers: list[Unbalanced]) -> None:
        self.transfers = transfers
        shown = "; ".join(str(t) for t in transfers[:10])
        more = f"; and {len(transfers) - 10} more" if len(transfers) > 10 else ""
        super().__init__(
            f"conservation broken for {len(transfers)} transfer(s), run not committed: "
            f"{shown}{more}"
        )


@dataclass(frozen=True)
class RequestBalance:
    request_id: str
    received: int  # at its deposit address (receipts of this run)
    applied: int  # auto-applied to it, from any receipt
    in_queue: int  # of the money at its address: open, proposed or resolved by a person


def _named_approvals(session: Session, exception_ids: list[str]) -> dict[str, int]:
    """Approved amounts per exception, counting only resolutions a named maker proposed and a
    different named checker approved."""
    totals: dict[str, int] = defaultdict(int)
    for start in range(0, len(exception_ids), 500):
        rows = session.scalars(
            sa.select(ExceptionResolution).where(
                ExceptionResolution.exception_id.in_(exception_ids[start : start + 500]),
                ExceptionResolution.state == "approved",
            )
        )
        for r in rows:
            if r.proposed_by and r.decided_by and r.proposed_by != r.decided_by:
                totals[r.exception_id] += int(r.amount)
    return totals


def _exception_amounts(
    session: Session, exceptions: pd.DataFrame
) -> tuple[dict[Identity, int], dict[Identity, int]]:
    """Per transfer: amounts of this run's exceptions still open/proposed, and resolved by a
    person (capped at the exception's amount)."""
    keys = queue_keys(exceptions)
    queue = {e.queue_key: e for e in session.scalars(sa.select(ReconException))}
    approvals = _named_approvals(session, [q.exception_id for q in queue.values()])
    open_: dict[Identity, int] = defaultdict(int)
    resolved: dict[Identity, int] = defaultdict(int)
    for key, row in zip(keys, exceptions.itertuples(index=False), strict=True):
        if not row.tx_hash:
            continue  # request-level (UNDERPAID): no receipt money
        ident = (int(row.chain_id), str(row.tx_hash).lower(), str(row.event_key))
        amount = int(row.amount)
        held = queue.get(key)
        if held is None:
            continue  # not in the queue: unaccounted
        if held.status in ("open", "proposed"):
            open_[ident] += amount
        elif held.status == "resolved" and not resolved_by_machine(held):
            resolved[ident] += min(amount, approvals.get(held.exception_id, 0))
    return open_, resolved


@dataclass(frozen=True)
class ConservationReport:
    receipts: int
    requests: list[RequestBalance]


def check_conservation(
    session: Session,
    matches: pd.DataFrame,
    exceptions: pd.DataFrame,
    as_of: datetime | None,
) -> ConservationReport:
    """Raise ConservationError for any unbalanced transfer; else per-request balances."""
    query = sa.select(
        ChainReceipt.chain_id,
        ChainReceipt.tx_hash,
        ChainReceipt.event_key,
        ChainReceipt.amount,
        ChainReceipt.payment_request_id,
    ).where(ChainReceipt.direction == "in")
    if as_of is not None:
        query = query.where(ChainReceipt.block_timestamp <= as_of)
    received: dict[Identity, int] = {}
    owner: dict[Identity, str | None] = {}
    for r in session.execute(query):
        ident = (int(r.chain_id), r.tx_hash.lower(), r.event_key)
        received[ident] = received.get(ident, 0) + int(r.amount)
        owner[ident] = r.payment_request_id
    applied: dict[Identity, int] = defaultdict(int)
    applied_to: dict[str, int] = defaultdict(int)
    auto = matches[matches["decision"] == "auto"]
    names = ("chain_id", "tx_hash", "event_key", "amount_applied", "request_id")
    columns = [auto[name].tolist() for name in names]  # not itertuples: Arrow columns, slow
    for chain_id, tx_hash, event_key, amount, request_id in zip(*columns, strict=True):
        ident = (int(chain_id), str(tx_hash).lower(), str(event_key))
        applied[ident] += int(amount)
        applied_to[str(request_id)] += int(amount)
    open_, resolved = _exception_amounts(session, exceptions)
    for ident in set(applied) | set(open_) | set(resolved):
        received.setdefault(ident, 0)  # applied or queued money the store never received
    broken = [
        Unbalanced(*ident, owner.get(ident), got, applied[ident], open_[ident], resolved[ident])
        for ident, got in sorted(received.items())
        if got != applied[ident] + open_[ident] + resolved[ident]
    ]
    if broken:
        raise ConservationError(broken)
    per_request: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for ident, got in received.items():
        request_id = owner.get(ident)
        if request_id:
            per_request[request_id][0] += got
            per_request[request_id][1] += open_[ident] + resolved[ident]
    balances = [
        RequestBalance(rid, per_request[rid][0], applied_to.get(rid, 0), per_request[rid][1])
        for rid in sorted(set(per_request) | set(applied_to))
    ]
    return ConservationReport(len(received), balances)


__all__ = [
    "ConservationError",
    "ConservationReport",
    "RequestBalance",
    "Unbalanced",
    "check_conservation",
]
