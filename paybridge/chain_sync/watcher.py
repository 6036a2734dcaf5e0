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
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from paybridge_connectors.chain.records import BlockHeader, RangeScan, TokenSpec
from paybridge_connectors.chain.rpc import RpcClient, RpcError
from paybridge_connectors.chain.scanner import ChainMovedDuringScan, RangeScanner, ScanPlan
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge.chain_sync.collector import fewer_collections
from paybridge.chain_sync.cursor import (
    CursorState,
    advance_cursor,
    create_cursor,
    drop_finalized_blocks,
    read_cursor,
    record_finality,
    stored_hash,
)
from paybridge.chain_sync.receipts import (
    FinalityView,
    advance_states,
    insert_receipts,
    store_headers,
)
from paybridge.chain_sync.reorg import (
    ChainHalted,
    PollReport,
    ReorgBelowFinality,
    ReorgHandling,
    clear_halt,
)
from paybridge.chain_sync.request_status import refresh_requests
from paybridge.chain_sync.watched import load_watched, watched_map
from paybridge.config import AssetConfig, ChainConfig
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest, SupersededQuote

log = logging.getLogger(__name__)

__all__ = [
    "ChainHalted",
    "ChainWatcher",
    "PollReport",
    "ReorgBelowFinality",
    "clear_halt",
    "load_watched",
    "tokens_for",
]
GROW_AFTER_SUCCESS = 2


#: Block timestamps and our clock may disagree by this much.
FIRST_SCAN_CLOCK_MARGIN = timedelta(minutes=5)


class _ParentMismatch(Exception):
    """The next block's parent is not our stored tip: reorg between polls."""


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


class ChainWatcher(ReorgHandling):
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
        self._extra_map: dict[str, str | None] = dict.fromkeys(self.extra_watched)
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
                with fewer_collections():
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
        if report.reorgs:  # rewound: read the cursor again
            with self.engine.connect() as connection:
                rewound = read_cursor(connection, self.chain.chain_id)
                assert rewound is not None
                cursor = rewound
        next_block, range_size = cursor.next_block, cursor.range_size
        last = view.head.number
        if max_blocks is not None:
            last = min(last, next_block + max_blocks - 1)
        finalized_with_range = False
        first_block = next_block  # receipts from here on are written under this view
        while next_block <= last:
            end = min(last, next_block + range_size - 1)
            scan, range_size = self._scan_adaptive(next_block, end, range_size, view)
            finalized_with_range = scan.to_block >= last  # the last range carries finality
            self._commit_range(
                report,
                scan,
                range_size,
                view,
                finalize=finalized_with_range,
                written_from=first_block,
            )
            report.scanned_from = next_block if report.scanned_from is None else report.scanned_from
            report.scanned_to = scan.to_block
            report.blocks_scanned += scan.to_block - scan.from_block + 1
            report.ranges += 1
            next_block = scan.to_block + 1
            if progress:
                progress(scan.to_block, view.head.number)
        if not finalized_with_range:
            self._apply_finality(report, view)

    def _finality(self) -> FinalityView:
        """Head, safe and finalized blocks, read in one batch (one HTTP request, not three: the
        tags are read at the same moment as the head). A tag the node does not support falls
        back to a depth below the head."""
        policy = self.chain.finality
        wanted = (("safe", policy.confirmed), ("finalized", policy.finalized))
        tags = [tag for tag, setting in wanted if setting == tag]
        answers = self.rpc.batch_results(
            [("eth_getBlockByNumber", [tag, False]) for tag in ("latest", *tags)]
        )
        if isinstance(answers[0], RpcError):
            raise answers[0]
        head = BlockHeader.from_rpc(answers[0])
        numbers = {
            tag: self._tag_number(tag, answer)
            for tag, answer in zip(tags, answers[1:], strict=True)
        }
        safe = numbers.get("safe")
        if safe is None:
            safe = head.number - policy.confirmations
        finalized = numbers.get("finalized")
        if finalized is None:
            finalized = head.number - policy.finality_depth
        return FinalityView(
            head=head, safe=min(safe, head.number), finalized=min(finalized, safe, head.number)
        )

    def _tag_number(self, tag: str, answer: Any) -> int | None:
        if isinstance(answer, RpcError):
            log.warning("%s: '%s' tag unsupported (%s); using depth", self.chain.name, tag, answer)
            return None
        return int(answer["number"], 16) if answer else None

    def _cursor(self, view: FinalityView) -> CursorState:
        """The chain's cursor, created on first use (safe when two workers start together)."""
        chain_id, range_size = self.chain.chain_id, self.chain.max_block_range
        for _ in range(2):
            try:
                with self.engine.begin() as connection:
                    cursor = read_cursor(connection, chain_id)
                    if cursor is None:
                        start = self.start_block
                        if start is None:
                            start = self._first_block_to_scan(connection, view)
                        create_cursor(
                            connection, chain_id, self.chain.name, start, range_size, self.clock()
                        )
                        cursor = CursorState(start, range_size, None, None)
                    return cursor
            except sa.exc.IntegrityError:
                continue  # another worker created it first: read theirs
        raise RuntimeError(f"could not create the cursor of chain {self.chain.name}")

    def _first_block_to_scan(self, connection: sa.Connection, view: FinalityView) -> int:
        """Where a chain's first scan starts: no later than the block of the oldest monitored
        request's creation (a payment can't precede its request), nor than head - finality."""
        start = max(0, view.head.number - self.chain.finality.finality_depth)
        now = self.clock()
        current = connection.scalar(
            sa.select(sa.func.min(PaymentRequest.created_at)).where(
                PaymentRequest.chain_id == self.chain.chain_id,
                PaymentRequest.monitor_until >= now,
            )
        )
        replaced = connection.scalar(  # a quote moved to another chain was payable here since then
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

    # -- scanning ----------------------------------------------------------------------------
    def _watched(self) -> dict[str, str | None]:
        """Read per range (a request created during a long catch-up is watched from the next
        range on); the extra addresses are merged from a dict built once."""
        with self.engine.connect() as connection:  # Core: no ORM session per range
            loaded = load_watched(connection, self.chain.chain_id, self.clock())
        return watched_map(loaded, self.extra_watched, self._extra_map)

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
        self,
        report: PollReport,
        scan: RangeScan,
        range_size: int,
        view: FinalityView,
        *,
        finalize: bool,
        written_from: int,
    ) -> None:
        """The range's receipts, headers and cursor advance in one transaction; with
        ``finalize`` (the poll's last range) the finality step too, in the same transaction
        (the receipts from ``written_from``, the poll's first block, on were written under
        ``view``: in their state already)."""
        chain_id = self.chain.chain_id
        now = self.clock()
        watched = self._current_watched
        with transaction(self.engine) as session:
            connection = session.connection()
            cursor = read_cursor(connection, chain_id, for_update=True)
            assert cursor is not None
            if cursor.next_block != scan.from_block:
                raise ChainMovedDuringScan(
                    f"cursor moved to {cursor.next_block} by another watcher"
                )
            first = scan.headers.get(scan.from_block)
            if first is not None:
                parent = stored_hash(connection, chain_id, scan.from_block - 1)
                if parent is not None and parent.lower() != first.parent_hash.lower():
                    raise _ParentMismatch(
                        f"block {first.number} parent {first.parent_hash} != stored {parent}"
                    )
            added, touched = insert_receipts(
                connection, chain_id, scan.transfers, watched, view, now
            )
            kept = [
                h
                for h in scan.headers.values()
                if h.number > view.finalized or h.number == scan.to_block
            ]
            store_headers(connection, chain_id, kept)
            advance_cursor(
                connection, chain_id, scan.to_block + 1, range_size, view.head.number, now
            )
            if self.update_payments and touched:
                report.audit_events += len(refresh_requests(session, touched, now=now))
            changed = (
                self._finalize(
                    session, cursor, scan.to_block, report, view, now, written_from=written_from
                )
                if finalize
                else 0
            )
        report.receipts_added += added
        report.state_changes += changed

    # -- finality ----------------------------------------------------------------------------
    def _apply_finality(self, report: PollReport, view: FinalityView) -> None:
        """The finality step on its own (a poll that scanned no range)."""
        with transaction(self.engine) as session:
            cursor = read_cursor(session.connection(), self.chain.chain_id, for_update=True)
            assert cursor is not None
            scanned_to = cursor.next_block - 1
            changed = self._finalize(session, cursor, scanned_to, report, view, self.clock())
        report.state_changes += changed

    def _finalize(
        self,
        session: Session,
        cursor: CursorState,
        scanned_to: int,
        report: PollReport,
        view: FinalityView,
        now: datetime,
        *,
        written_from: int | None = None,
    ) -> int:
        """Receipts follow the view's safe and finalized blocks (up to ``scanned_to``; those
        from ``written_from`` on were written under ``view``), the cursor records them,
        headers below the newest finalized one are dropped; inside the caller's transaction,
        holding the cursor (``cursor``: as read at its start). Returns the receipts whose
        state changed."""
        chain_id = self.chain.chain_id
        connection = session.connection()
        finalized = min(view.finalized, scanned_to)
        safe = min(view.safe, scanned_to)
        changed, touched = advance_states(
            connection,
            chain_id,
            finalized,
            safe,
            now,
            finalized_before=cursor.finalized_block,
            written_from=written_from,
            want_touched=self.update_payments,
        )
        newest = max(cursor.finalized_block or -1, finalized) if finalized >= 0 else None
        record_finality(connection, chain_id, view.head.number, view.safe, newest, now)
        drop_finalized_blocks(connection, chain_id, finalized)
        if self.update_payments and touched:
            report.audit_events += len(refresh_requests(session, touched, now=now))
        return changed
