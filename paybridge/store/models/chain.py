"""Chain-watcher tables: per-chain cursor, recent block hashes (reorg detection), receipts.

Receipts are facts ("this transfer touched a watched address"), keyed idempotently on
(chain id, tx hash, event key, direction) where the event key is ``log:<logIndex>`` for ERC-20
Transfer logs, ``tx`` for a transaction's own value and ``trace:<path>`` for internal calls.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from paybridge.store.base import Base
from paybridge.store.types import BaseUnits, UTCDateTime


class ChainCursor(Base):
    """Where the watcher of one chain stands; written in the same transaction as its receipts."""

    __tablename__ = "chain_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chain_name: Mapped[str] = mapped_column(String(64))
    next_block: Mapped[int] = mapped_column(BigInteger)
    range_size: Mapped[int] = mapped_column(Integer)
    head_block: Mapped[int | None] = mapped_column(BigInteger)
    safe_block: Mapped[int | None] = mapped_column(BigInteger)
    finalized_block: Mapped[int | None] = mapped_column(BigInteger)
    halted_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChainBlock(Base):
    """(number, hash, parentHash) of scanned blocks above the finalized one (plus that anchor)."""

    __tablename__ = "chain_blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class ChainReceipt(Base):
    """One transfer into or out of a watched address, with its finality state."""

    __tablename__ = "chain_receipts"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "event_key", "direction"),
        Index("ix_chain_receipts_chain_block", "chain_id", "block_number"),
        # none by watched address: nothing reads receipts by it (migration 0011)
        # a payment's receipts (portal status, GET /v1/payments/{id}, re-quotes): partial, so
        # the many receipts matched to no request cost the scanner's bulk insert nothing
        Index(
            "ix_chain_receipts_request",
            "payment_request_id",
            sqlite_where=text("payment_request_id IS NOT NULL"),
            postgresql_where=text("payment_request_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    event_key: Mapped[str] = mapped_column(String(96))
    log_index: Mapped[int | None] = mapped_column(Integer)
    trace_address: Mapped[str | None] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(16))  # erc20 | native | internal
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    asset_symbol: Mapped[str] = mapped_column(String(16))
    asset_address: Mapped[str | None] = mapped_column(String(42))
    from_address: Mapped[str] = mapped_column(String(42))
    to_address: Mapped[str] = mapped_column(String(42))
    watched_address: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(BaseUnits)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # detected | confirmed | finalized
    payment_request_id: Mapped[str | None] = mapped_column(String(40))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = ["ChainBlock", "ChainCursor", "ChainReceipt"]
