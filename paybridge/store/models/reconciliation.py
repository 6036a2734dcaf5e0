"""Reconciliation in the store: runs, their matches, the exceptions queue, manual resolutions
and the latest tie-out results. Amounts are base units (``BaseUnits``), exact on SQLite and PG."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paybridge.store.base import Base
from paybridge.store.types import BaseUnits, UTCDateTime

EXCEPTION_STATUSES = ("open", "proposed", "resolved")


class ReconRun(Base):
    """One reconciliation of the store: what went in (hashes), which engine, what came out."""

    __tablename__ = "recon_runs"

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    engine_version: Mapped[str] = mapped_column(String(32))
    config_sha256: Mapped[str] = mapped_column(String(64))
    requests_sha256: Mapped[str] = mapped_column(String(64))
    receipts_sha256: Mapped[str] = mapped_column(String(64))
    rates_sha256: Mapped[str] = mapped_column(String(64))
    requests: Mapped[int] = mapped_column(Integer)
    receipts: Mapped[int] = mapped_column(Integer)
    matches: Mapped[int] = mapped_column(Integer)
    matches_auto: Mapped[int] = mapped_column(Integer)
    exceptions: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    settlements_enqueued: Mapped[int] = mapped_column(Integer)
    awaiting_finality: Mapped[int] = mapped_column(Integer)


class ReconMatch(Base):
    """A match of one run (the engine's ``matches.csv`` row, with its evidence)."""

    __tablename__ = "recon_matches"
    __table_args__ = (Index("ix_recon_matches_request", "request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("recon_runs.run_id"), index=True)
    request_id: Mapped[str] = mapped_column(String(40))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    #: which transfer of the transaction: log:<index> | tx | trace:<path> (None: before 0005)
    event_key: Mapped[str | None] = mapped_column(String(96))
    log_index: Mapped[int | None] = mapped_column(Integer)  # logs only; event_key is the identity
    block_number: Mapped[int] = mapped_column(BigInteger)
    amount_applied: Mapped[int] = mapped_column(BaseUnits)
    rule: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    paid_late: Mapped[bool] = mapped_column(Boolean)
    fair_value: Mapped[str] = mapped_column(String(64))
    rate: Mapped[str] = mapped_column(String(64))
    rate_source: Mapped[str] = mapped_column(String(256))
    explanation: Mapped[str] = mapped_column(Text)


class ReconException(Base):
    """The exceptions queue: one row per problem, kept across runs (status survives re-runs)."""

    __tablename__ = "recon_exceptions"
    __table_args__ = (Index("ix_recon_exceptions_status", "status"),)

    exception_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    queue_key: Mapped[str] = mapped_column(String(256), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    event_key: Mapped[str | None] = mapped_column(String(96))  # log:<i> | tx | trace:<path>
    log_index: Mapped[int | None] = mapped_column(Integer)  # logs only; event_key is the identity
    block_time: Mapped[str | None] = mapped_column(String(40))
    asset: Mapped[str | None] = mapped_column(String(42))
    from_address: Mapped[str | None] = mapped_column(String(42))
    to_address: Mapped[str | None] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(BaseUnits)
    request_id: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(128))
    remaining_due: Mapped[int | None] = mapped_column(BaseUnits)
    detail: Mapped[str] = mapped_column(Text)
    suggested_action: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | proposed | resolved
    resolution_note: Mapped[str | None] = mapped_column(Text)
    first_run_id: Mapped[str] = mapped_column(String(40))
    last_run_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExceptionResolution(Base):
    """A person's resolution of an exception, under maker-checker (proposer != approver)."""

    __tablename__ = "recon_resolutions"

    resolution_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    exception_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("recon_exceptions.exception_id"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BaseUnits)
    request_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    refund_address: Mapped[str] = mapped_column(String(42))
    state: Mapped[str] = mapped_column(String(16))  # proposed | approved | rejected
    proposed_by: Mapped[str] = mapped_column(String(128))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settlement_id: Mapped[str | None] = mapped_column(String(64))


class TieOutResult(Base):
    """Latest tie-out rows per kind (chain / erp), for the auditor's workbook."""

    __tablename__ = "recon_tieouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tie_out: Mapped[str] = mapped_column(String(32), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key: Mapped[str] = mapped_column(String(256))
    expected: Mapped[str] = mapped_column(String(96))
    actual: Mapped[str] = mapped_column(String(96))
    difference: Mapped[str] = mapped_column(String(96))
    status: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)


__all__ = [
    "EXCEPTION_STATUSES",
    "ExceptionResolution",
    "ReconException",
    "ReconMatch",
    "ReconRun",
    "TieOutResult",
]
