"""Reorg handling of the chain watcher: the stored tip checked against the chain each poll;
orphaned blocks' receipts removed and the cursor rewound, or the chain halted with an alarm when
the reorg reaches a block already seen finalized (a human must look, then ``clear_halt``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.chain_sync.cursor import read_cursor, stored_blocks
from paybridge.chain_sync.receipts import FinalityView, delete_above
from paybridge.chain_sync.request_status import refresh_requests
from paybridge.domain.audit_events import AuditEvent
from paybridge.store.db import transaction
from paybridge.store.models.chain import ChainBlock, ChainCursor

if TYPE_CHECKING:
    from paybridge_connectors.chain.rpc import RpcClient

    from paybridge.config import ChainConfig

log = logging.getLogger(__name__)

ACTOR = "chain-watcher"


class ReorgBelowFinality(Exception):
    """A reorg reached a block we saw as finalized: stop this chain, a human must look."""


class ChainHalted(Exception):
    """The chain's watcher was stopped by an alarm; see the reason, then clear it deliberately."""


@dataclass
class PollReport:
    chain: str
    head: int = -1
    safe: int = -1
    finalized: int = -1
    scanned_from: int | None = None
    scanned_to: int | None = None
    blocks_scanned: int = 0
    ranges: int = 0
    receipts_added: int = 0
    receipts_removed: int = 0
    reorgs: list[tuple[int, int]] = field(default_factory=list)  # (old tip, common ancestor)
    state_changes: int = 0
    audit_events: int = 0


class ReorgHandling:
    """The watcher's reorg steps (a mixin of ``ChainWatcher``, which sets these attributes)."""

    chain: ChainConfig
    engine: Engine
    rpc: RpcClient
    clock: Callable[[], datetime]
    update_payments: bool

    # -- reorgs ------------------------------------------------------------------------------
    def _check_reorg(self, report: PollReport, view: FinalityView) -> None:
        chain_id = self.chain.chain_id
        with self.engine.connect() as connection:  # rows, no ORM object per stored block
            stored = stored_blocks(connection, chain_id)
            if not stored:  # nothing scanned above finality yet: nothing can have reorged
                return
            cursor = read_cursor(connection, chain_id)
            assert cursor is not None
            known_finalized = cursor.finalized_block
        tip = stored[0]
        canonical = self.rpc.call("eth_getBlockByNumber", [hex(tip.number), False])
        if canonical is not None and canonical["hash"].lower() == tip.hash.lower():
            return
        numbers = [b.number for b in stored]
        answers = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        ancestor: sa.Row[tuple[int, str]] | None = None
        for block, answer in zip(stored, answers, strict=True):
            if answer is not None and answer["hash"].lower() == block.hash.lower():
                ancestor = block
                break
        lowest_orphan = min(
            b.number for b in stored if ancestor is None or b.number > ancestor.number
        )
        if ancestor is None or (known_finalized is not None and lowest_orphan <= known_finalized):
            reason = (
                f"reorg below finality on chain {self.chain.name} ({self.chain.chain_id}): "
                f"block {lowest_orphan} changed but block {known_finalized} was already finalized; "
                f"watcher stopped, receipts kept as they were. Investigate before clearing."
            )
            self._halt(reason, tip.number, lowest_orphan)
            raise ReorgBelowFinality(reason)
        self._rewind(report, tip.number, ancestor.number)

    def _halt(self, reason: str, tip: int, orphan: int) -> None:
        with transaction(self.engine) as session:
            cursor = session.get(ChainCursor, self.chain.chain_id, with_for_update=True)
            assert cursor is not None
            cursor.halted_reason = reason
            cursor.updated_at = self.clock()
            audit.append(
                session,
                [
                    AuditEvent(
                        actor=ACTOR,
                        entity_type="chain",
                        entity_id=str(self.chain.chain_id),
                        action="alarm:reorg_below_finality",
                        before={"tip": tip},
                        after={"lowest_changed_block": orphan},
                        reason=reason,
                    )
                ],
                at=self.clock(),
            )
        log.error(reason)

    def _rewind(self, report: PollReport, old_tip: int, ancestor: int) -> None:
        chain_id = self.chain.chain_id
        with transaction(self.engine) as session:
            cursor = session.get(ChainCursor, chain_id, with_for_update=True)
            assert cursor is not None
            removed, touched = delete_above(session, chain_id, ancestor)
            session.execute(
                sa.delete(ChainBlock).where(
                    ChainBlock.chain_id == chain_id, ChainBlock.number > ancestor
                )
            )
            cursor.next_block = min(cursor.next_block, ancestor + 1)
            cursor.updated_at = self.clock()
            session.flush()
            events = [
                AuditEvent(
                    actor=ACTOR,
                    entity_type="chain",
                    entity_id=str(chain_id),
                    action="reorg",
                    before={"tip": old_tip},
                    after={"common_ancestor": ancestor, "receipts_removed": removed},
                    reason=f"blocks {ancestor + 1}..{old_tip} orphaned; rescanning",
                )
            ]
            audit.append(session, events, at=self.clock())
            report.audit_events += 1
            if self.update_payments:
                report.audit_events += len(refresh_requests(session, touched, now=self.clock()))
        report.receipts_removed += removed
        report.reorgs.append((old_tip, ancestor))
        log.warning(
            "%s: reorg, blocks %d..%d orphaned, %d receipt(s) removed",
            self.chain.name,
            ancestor + 1,
            old_tip,
            removed,
        )


def clear_halt(engine: Engine, chain_id: int, *, actor: str, reason: str) -> None:
    """Deliberately resume a halted chain (after a human checked the deep reorg)."""
    with transaction(engine) as session:
        cursor = session.get(ChainCursor, chain_id, with_for_update=True)
        if cursor is None or cursor.halted_reason is None:
            return
        before = cursor.halted_reason
        cursor.halted_reason = None
        session.execute(sa.delete(ChainBlock).where(ChainBlock.chain_id == chain_id))
        cursor.finalized_block = None
        audit.append(
            session,
            [
                AuditEvent(
                    actor=actor,
                    entity_type="chain",
                    entity_id=str(chain_id),
                    action="alarm_cleared",
                    before={"halted_reason": before},
                    after={"halted_reason": None},
                    reason=reason,
                )
            ],
        )
