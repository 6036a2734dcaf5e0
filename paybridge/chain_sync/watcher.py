"""Per-chain watcher: head tracking, reorg handling, range scanning, finality, resumable cursor.

Design (after Ponder's realtime sync): the store keeps (number, hash, parentHash) of every
scanned block above the finalized one. Each poll first checks the stored tip against the chain;
a changed hash (or a new block whose parent is not our tip) means a reorg: walk back to the
common ancestor, delete receipts of orphaned blocks, rewind the cursor, rescan. A reorg that
would cross the finalized block halts the chain with an alarm instead.

Each scanned range is committed in one transaction together with the cursor advance, so a kill
at any point loses nothing and duplicates nothing: the next run resumes at the cursor, and
receipts are unique on (chain id, tx hash, event key, direction) anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from connectors.chain.records import BlockHeader, ObservedTransfer, RangeScan, TokenSpec
from connectors.chain.rpc import RpcClient, RpcError
from connectors.chain.scanner import ChainMovedDuringScan, RangeScanner, ScanPlan
from paybridge import audit
from paybridge.chain_sync.request_status import refresh_requests
from paybridge.config import AssetConfig, ChainConfig
from paybridge.domain.audit_events import AuditEvent
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest, SupersededQuote
from paybridge.store.models.chain import ChainBlock, ChainCursor, ChainReceipt

log = logging.getLogger(__name__)

ACTOR = "chain-watcher"
GROW_AFTER_SUCCESS = 2


#: Block timestamps and our clock may disagree by this much.
FIRST_SCAN_CLOCK_MARGIN = timedelta(minutes=5)


class ReorgBelowFinality(Exception):
    """A reorg reached a block we saw as finalized: stop this chain, a human must look."""


class ChainHalted(Exception):
    """The chain's watcher was stopped by an alarm; see the reason, then clear it deliberately."""


class _ParentMismatch(Exception):
    """The next block's parent is not our stored tip: reorg between polls."""


@dataclass(frozen=True)
class FinalityView:
    head: BlockHeader
    safe: int
    finalized: int


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


def tokens_for(
    chain: ChainConfig, assets: Iterable[AssetConfig]
) -> tuple[list[TokenSpec], str | None]:
    tokens: list[TokenSpec] = []
    native: str | None = None
    for asset in assets:
        if asset.chain != chain.name:
            continue
        if asset.kind == "native":
            native = asset.symbol
        elif asset.address:
            tokens.append(TokenSpec(asset.symbol, asset.address, asset.decimals))
    return tokens, native


def load_watched(session: Session, chain_id: int, now: datetime) -> dict[str, str]:
    """Deposit addresses still monitored on this chain (lowercase) -> payment request id,
    including those of quotes a payer replaced (another asset or network) whose own
    late-payment window is still open: a transfer sent to the old quote is recorded too."""
    rows = session.execute(
        sa.select(PaymentRequest.deposit_address, PaymentRequest.id)
        .where(PaymentRequest.chain_id == chain_id, PaymentRequest.monitor_until >= now)
        .union(
            sa.select(SupersededQuote.deposit_address, SupersededQuote.payment_request_id).where(
                SupersededQuote.chain_id == chain_id, SupersededQuote.monitor_until >= now
            )
        )
    )
    return {address.lower(): request_id for address, request_id in rows}


class ChainWatcher:
    def __init__(
        self,
        chain: ChainConfig,
        assets: Iterable[AssetConfig],
        engine: Engine,
        *,
        rpc: RpcClient | None = None,
        start_block: int | None = None,
        extra_watched: Collection[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        update_payments: bool = True,
    ) -> None:
        self.chain = chain
        self.engine = engine
        self.rpc = rpc or RpcClient(chain.rpc_url)
        tokens, native = tokens_for(chain, assets)
        self.scanner = RangeScanner(
            self.rpc,
            ScanPlan(tokens=tokens, native_symbol=native, traces_enabled=chain.traces_enabled),
        )
        self.start_block = start_block
        self.extra_watched = {a.lower() for a in extra_watched}
        self.clock = clock
        self.update_payments = update_payments
        self._range_ceiling = chain.max_block_range

    # -- public ------------------------------------------------------------------------------
    def poll(
        self,
        *,
        max_blocks: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> PollReport:
        """Catch up from the cursor to the head once (or ``max_blocks`` of it)."""
        report = PollReport(chain=self.chain.name)
        attempts = 5
        for attempt in range(1, attempts + 1):
            try:
                self._poll(report, max_blocks, progress)
                return report
            except (_ParentMismatch, ChainMovedDuringScan) as exc:
                if attempt == attempts:
                    raise
                log.info(
                    "%s: chain moved during the poll (%s); checking for a reorg",
                    self.chain.name,
                    exc,
                )
        return report

    # -- steps -------------------------------------------------------------------------------
    def _poll(
        self,
        report: PollReport,
        max_blocks: int | None,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        view = self._finality()
        report.head, report.safe, report.finalized = view.head.number, view.safe, view.finalized
        cursor = self._cursor(view)
        if cursor.halted_reason:
            raise ChainHalted(f"chain {self.chain.name} is halted: {cursor.halted_reason}")
        self._check_reorg(report, view)
        with Session(self.engine) as session:
            cursor = session.get(ChainCursor, self.chain.chain_id)
            assert cursor is not None
            next_block, range_size = cursor.next_block, cursor.range_size
        last = view.head.number
        if max_blocks is not None:
            last = min(last, next_block + max_blocks - 1)
        while next_block <= last:
            end = min(last, next_block + range_size - 1)
            scan, range_size = self._scan_adaptive(next_block, end, range_size, view)
            self._commit_range(report, scan, range_size, view)
            report.scanned_from = next_block if report.scanned_from is None else report.scanned_from
            report.scanned_to = scan.to_block
            report.blocks_scanned += scan.to_block - scan.from_block + 1
            report.ranges += 1
            next_block = scan.to_block + 1
            if progress:
                progress(scan.to_block, view.head.number)
        self._apply_finality(report, view)

    def _finality(self) -> FinalityView:
        head_block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        head = BlockHeader.from_rpc(head_block)
        policy = self.chain.finality
        safe = self._tag_number("safe") if policy.confirmed == "safe" else None
        if safe is None:
            safe = head.number - policy.confirmations
        finalized = self._tag_number("finalized") if policy.finalized == "finalized" else None
        if finalized is None:
            finalized = head.number - policy.finality_depth
        return FinalityView(
            head=head, safe=min(safe, head.number), finalized=min(finalized, safe, head.number)
        )

    def _tag_number(self, tag: str) -> int | None:
        try:
            block = self.rpc.call("eth_getBlockByNumber", [tag, False])
        except RpcError as exc:
            log.warning("%s: '%s' tag unsupported (%s); using depth", self.chain.name, tag, exc)
            return None
        return int(block["number"], 16) if block else None

    def _cursor(self, view: FinalityView) -> ChainCursor:
        """The chain's cursor, created on first use (safe when two workers start together)."""
        for _ in range(2):
            try:
                with transaction(self.engine) as session:
                    cursor = session.get(ChainCursor, self.chain.chain_id)
                    if cursor is None:
                        start = self.start_block
                        if start is None:
                            start = self._first_block_to_scan(session, view)
                        cursor = ChainCursor(
                            chain_id=self.chain.chain_id,
                            chain_name=self.chain.name,
                            next_block=start,
                            range_size=self.chain.max_block_range,
                            updated_at=self.clock(),
                        )
                        session.add(cursor)
                    return cursor
            except sa.exc.IntegrityError:
                continue  # another worker created it first: read theirs
        raise RuntimeError(f"could not create the cursor of chain {self.chain.name}")

    def _first_block_to_scan(self, session: Session, view: FinalityView) -> int:
        """Where a chain's first scan starts: no later than the block of the oldest monitored
        request's creation (a payment can't precede its request), nor than head - finality."""
        start = max(0, view.head.number - self.chain.finality.finality_depth)
        now = self.clock()
        current = session.scalar(
            sa.select(sa.func.min(PaymentRequest.created_at)).where(
                PaymentRequest.chain_id == self.chain.chain_id,
                PaymentRequest.monitor_until >= now,
            )
        )
        replaced = session.scalar(  # a quote moved to another chain was payable here since then
            sa.select(sa.func.min(PaymentRequest.created_at))
            .join(SupersededQuote, SupersededQuote.payment_request_id == PaymentRequest.id)
            .where(SupersededQuote.chain_id == self.chain.chain_id)
            .where(SupersededQuote.monitor_until >= now)
        )
        oldest = min((t for t in (current, replaced) if t is not None), default=None)
        if oldest is None:
            return start
        target = int((oldest - FIRST_SCAN_CLOCK_MARGIN).timestamp())
        low, high = 0, start  # binary search: first block with timestamp >= target
        while low < high:
            middle = (low + high) // 2
            block = self.rpc.call("eth_getBlockByNumber", [hex(middle), False])
            if int(block["timestamp"], 16) < target:
                low = middle + 1
            else:
                high = middle
        return low

    # -- reorgs ------------------------------------------------------------------------------
    def _check_reorg(self, report: PollReport, view: FinalityView) -> None:
        with Session(self.engine) as session:
            stored = session.scalars(
                sa.select(ChainBlock)
                .where(ChainBlock.chain_id == self.chain.chain_id)
                .order_by(ChainBlock.number.desc())
            ).all()
            cursor = session.get(ChainCursor, self.chain.chain_id)
            assert cursor is not None
            known_finalized = cursor.finalized_block
        if not stored:
            return
        tip = stored[0]
        canonical = self.rpc.call("eth_getBlockByNumber", [hex(tip.number), False])
        if canonical is not None and canonical["hash"].lower() == tip.hash.lower():
            return
        numbers = [b.number for b in stored]
        answers = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        ancestor: ChainBlock | None = None
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
            orphaned = session.scalars(
                sa.select(ChainReceipt).where(
                    ChainReceipt.chain_id == chain_id, ChainReceipt.block_number > ancestor
                )
            ).all()
            touched = {r.payment_request_id for r in orphaned if r.payment_request_id}
            for receipt in orphaned:
                session.delete(receipt)
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
                    after={"common_ancestor": ancestor, "receipts_removed": len(orphaned)},
                    reason=f"blocks {ancestor + 1}..{old_tip} orphaned; rescanning",
                )
            ]
            audit.append(session, events, at=self.clock())
            report.audit_events += 1
            if self.update_payments:
                report.audit_events += len(refresh_requests(session, touched, now=self.clock()))
        report.receipts_removed += len(orphaned)
        report.reorgs.append((old_tip, ancestor))
        log.warning(
            "%s: reorg, blocks %d..%d orphaned, %d receipt(s) removed",
            self.chain.name,
            ancestor + 1,
            old_tip,
            len(orphaned),
        )

    # -- scanning ----------------------------------------------------------------------------
    def _watched(self) -> dict[str, str | None]:
        with Session(self.engine) as session:
            watched: dict[str, str | None] = dict(
                load_watched(session, self.chain.chain_id, self.clock())
            )
        for address in self.extra_watched:
            watched.setdefault(address, None)
        return watched

    def _scan_adaptive(
        self, start: int, end: int, range_size: int, view: FinalityView
    ) -> tuple[RangeScan, int]:
        self._current_watched = self._watched()
        shrunk = False
        while True:
            try:
                scan = self.scanner.scan(
                    start, end, self._current_watched, headers_from=view.finalized + 1
                )
            except RpcError as exc:
                if not exc.is_range_limit or end == start:
                    raise
                suggested = exc.suggested_to_block()
                if suggested is not None and start <= suggested < end:
                    end = suggested
                else:
                    end = start + max(1, (end - start + 1) // 2) - 1
                range_size, shrunk = end - start + 1, True
                # never grow past a size the provider refused (until the process restarts)
                self._range_ceiling = min(self._range_ceiling, range_size)
                log.info(
                    "%s: range refused (%s); retrying %d..%d",
                    self.chain.name,
                    exc.message,
                    start,
                    end,
                )
                continue
            if shrunk or end - start + 1 < range_size:
                return scan, range_size  # keep a size that worked; grow on a later clean range
            return scan, min(self._range_ceiling, range_size * GROW_AFTER_SUCCESS)

    def _commit_range(
        self, report: PollReport, scan: RangeScan, range_size: int, view: FinalityView
    ) -> None:
        chain_id = self.chain.chain_id
        now = self.clock()
        watched = self._current_watched
        with transaction(self.engine) as session:
            cursor = session.get(ChainCursor, chain_id, with_for_update=True)
            assert cursor is not None
            if cursor.next_block != scan.from_block:
                raise ChainMovedDuringScan(
                    f"cursor moved to {cursor.next_block} by another watcher"
                )
            first = scan.headers.get(scan.from_block)
            if first is not None:
                parent = session.get(ChainBlock, (chain_id, scan.from_block - 1))
                if parent is not None and parent.hash.lower() != first.parent_hash.lower():
                    raise _ParentMismatch(
                        f"block {first.number} parent {first.parent_hash} != stored {parent.hash}"
                    )
            added, touched = self._insert_receipts(session, scan.transfers, watched, view, now)
            kept = [
                h
                for h in scan.headers.values()
                if h.number > view.finalized or h.number == scan.to_block
            ]
            # session.merge per header was a SELECT each: one lookup, then update or add
            stored = (
                {
                    b.number: b
                    for b in session.scalars(
                        sa.select(ChainBlock).where(
                            ChainBlock.chain_id == chain_id,
                            ChainBlock.number.between(
                                min(h.number for h in kept), max(h.number for h in kept)
                            ),
                        )
                    )
                }
                if kept
                else {}
            )
            for header in kept:
                block = stored.get(header.number) or ChainBlock(
                    chain_id=chain_id, number=header.number
                )
                block.hash = header.hash.lower()
                block.parent_hash = header.parent_hash.lower()
                block.timestamp = header.time
                session.add(block)
            cursor.next_block = scan.to_block + 1
            cursor.range_size = range_size
            cursor.head_block = view.head.number
            cursor.updated_at = now
            session.flush()
            if self.update_payments and touched:
                report.audit_events += len(refresh_requests(session, touched, now=now))
        report.receipts_added += added

    def _insert_receipts(
        self,
        session: Session,
        transfers: list[ObservedTransfer],
        watched: dict[str, str | None],
        view: FinalityView,
        now: datetime,
    ) -> tuple[int, set[str]]:
        if not transfers:
            return 0, set()
        chain_id = self.chain.chain_id
        hashes = sorted({t.tx_hash for t in transfers})
        existing: set[tuple[str, str, str]] = set()
        for i in range(0, len(hashes), 500):
            existing.update(
                session.execute(
                    sa.select(
                        ChainReceipt.tx_hash, ChainReceipt.event_key, ChainReceipt.direction
                    ).where(
                        ChainReceipt.chain_id == chain_id,
                        ChainReceipt.tx_hash.in_(hashes[i : i + 500]),
                    )
                ).all()
            )
        rows: list[dict[str, object]] = []
        touched: set[str] = set()
        for t in transfers:
            for direction, address in (("in", t.to_address), ("out", t.from_address)):
                if address not in watched:
                    continue
                key = (t.tx_hash, t.event_key, direction)
                if key in existing:
                    continue
                existing.add(key)
                request_id = watched[address]
                rows.append(
                    {
                        "chain_id": chain_id,
                        "tx_hash": t.tx_hash,
                        "event_key": t.event_key,
                        "log_index": t.log_index,
                        "trace_address": t.trace_address,
                        "kind": t.kind,
                        "direction": direction,
                        "asset_symbol": t.asset_symbol,
                        "asset_address": t.asset_address,
                        "from_address": t.from_address,
                        "to_address": t.to_address,
                        "watched_address": address,
                        "amount": t.amount,
                        "block_number": t.block_number,
                        "block_hash": t.block_hash,
                        "block_timestamp": datetime.fromtimestamp(t.block_timestamp, UTC),
                        "state": _state(t.block_number, view),
                        "payment_request_id": request_id,
                        "first_seen_at": now,
                        "updated_at": now,
                    }
                )
                if request_id:
                    touched.add(request_id)
        if rows:  # one executemany in the scan's transaction, not an ORM object per receipt
            session.connection().execute(sa.insert(ChainReceipt.__table__), rows)
        return len(rows), touched

    # -- finality ----------------------------------------------------------------------------
    def _apply_finality(self, report: PollReport, view: FinalityView) -> None:
        chain_id = self.chain.chain_id
        now = self.clock()
        with transaction(self.engine) as session:
            cursor = session.get(ChainCursor, chain_id, with_for_update=True)
            assert cursor is not None
            scanned_to = cursor.next_block - 1
            finalized = min(view.finalized, scanned_to)
            safe = min(view.safe, scanned_to)
            changing = session.scalars(
                sa.select(ChainReceipt).where(
                    ChainReceipt.chain_id == chain_id,
                    sa.or_(
                        sa.and_(
                            ChainReceipt.block_number <= finalized,
                            ChainReceipt.state != "finalized",
                        ),
                        sa.and_(
                            ChainReceipt.block_number <= safe,
                            ChainReceipt.state == "detected",
                        ),
                    ),
                )
            ).all()
            touched: set[str] = set()
            for receipt in changing:
                receipt.state = _state(receipt.block_number, view)
                receipt.updated_at = now
                if receipt.payment_request_id:
                    touched.add(receipt.payment_request_id)
            cursor.head_block = view.head.number
            cursor.safe_block = view.safe
            cursor.finalized_block = (
                max(cursor.finalized_block or -1, finalized) if finalized >= 0 else None
            )
            cursor.updated_at = now
            anchor = session.scalar(
                sa.select(sa.func.max(ChainBlock.number)).where(
                    ChainBlock.chain_id == chain_id, ChainBlock.number <= finalized
                )
            )
            if anchor is not None:
                session.execute(
                    sa.delete(ChainBlock).where(
                        ChainBlock.chain_id == chain_id, ChainBlock.number < anchor
                    )
                )
            session.flush()
            if self.update_payments and touched:
                report.audit_events += len(refresh_requests(session, touched, now=now))
        report.state_changes += len(changing)


def _state(block_number: int, view: FinalityView) -> str:
    if block_number <= view.finalized:
        return "finalized"
    if block_number <= view.safe:
        return "confirmed"
    return "detected"


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
