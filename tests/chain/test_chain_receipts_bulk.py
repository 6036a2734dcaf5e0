"""Receipts written in bulk (driver-level executemany, bind processors applied by hand) store
exactly what Core's ``insert`` stores, on SQLite and PostgreSQL; re-inserting adds nothing;
finality and reorg removal move receipts in bulk and name the requests they touched."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from paybridge_connectors.chain.records import BlockHeader, ObservedTransfer
from sqlalchemy.engine import Engine

from paybridge.chain_sync.receipt_writer import ROWS_PER_STATEMENT, writer_for
from paybridge.chain_sync.receipts import (
    FinalityView,
    advance_states,
    delete_above,
    insert_receipts,
)
from paybridge.store.db import transaction
from paybridge.store.models.chain import ChainReceipt

NOW = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)
HEAD = BlockHeader(
    number=30,
    hash="0x" + "30" * 32,
    parent_hash="0x" + "29" * 32,
    timestamp=0,
    logs_bloom="0x0",
    tx_count=0,
)
VIEW = FinalityView(head=HEAD, safe=20, finalized=10)
A, B, C = ("0x" + c * 40 for c in "abc")


def _transfer(block: int, index: int, sender: str, recipient: str, amount: int) -> ObservedTransfer:
    return ObservedTransfer(
        tx_hash=f"0x{block:064x}",
        event_key=f"log:{index}",
        kind="erc20",
        asset_symbol="USDC",
        asset_address="0x" + "0d" * 20,
        from_address=sender,
        to_address=recipient,
        amount=amount,
        block_number=block,
        block_hash=f"0x{block + 1000:064x}",
        block_timestamp=1_700_000_000 + block * 12,
        log_index=index,
    )


TRANSFERS = [
    _transfer(5, 0, A, B, 2**255 + 7),  # finalized; both sides watched: an in and an out
    _transfer(15, 3, C, B, 1),  # confirmed
    _transfer(25, 1, C, A, 10**30),  # detected
    _transfer(25, 2, C, "0x" + "ee" * 20, 9),  # nobody watched
]
WATCHED = {A: "req-a", B: None}


def _raw_rows(engine: Engine) -> list[tuple]:
    columns = [c for c in ChainReceipt.__table__.c if c.name != "id"]
    with engine.connect() as conn:
        names = ", ".join(c.name for c in columns)
        return sorted(
            tuple(row)
            for row in conn.exec_driver_sql(f"select {names} from chain_receipts").fetchall()
        )


def _rewritten_by_core(engine: Engine) -> list[tuple]:
    """The stored receipts deleted and written again through Core's insert (per-row parameter
    processing), read back raw: equal to what the bulk writer stored when it stores the same
    bytes (same text of timestamps and amounts on SQLite, same values on PostgreSQL)."""
    with transaction(engine) as session:
        rows = [
            {c.name: getattr(r, c.name) for c in ChainReceipt.__table__.c if c.name != "id"}
            for r in session.scalars(sa.select(ChainReceipt))
        ]
        session.execute(sa.delete(ChainReceipt))
        session.execute(sa.insert(ChainReceipt.__table__), rows)
    return _raw_rows(engine)


def test_bulk_insert_stores_what_core_insert_stores(store: Engine) -> None:
    with transaction(store) as session:
        added, touched = insert_receipts(session, 7, TRANSFERS, WATCHED, VIEW, NOW)
    assert (added, touched) == (4, {"req-a"})
    bulk = _raw_rows(store)
    orm = {(r.tx_hash, r.event_key, r.direction): r for r in _receipts(store)}
    assert orm[(TRANSFERS[0].tx_hash, "log:0", "out")].amount == 2**255 + 7
    assert orm[(TRANSFERS[0].tx_hash, "log:0", "in")].watched_address == B
    assert orm[(TRANSFERS[2].tx_hash, "log:1", "in")].payment_request_id == "req-a"
    assert [orm[(t.tx_hash, t.event_key, "in")].state for t in TRANSFERS[:3]] == [
        "finalized",
        "confirmed",
        "detected",
    ]
    receipt = orm[(TRANSFERS[1].tx_hash, "log:3", "in")]
    assert receipt.block_timestamp == datetime.fromtimestamp(1_700_000_180, UTC)
    assert receipt.first_seen_at == NOW and receipt.updated_at == NOW

    assert _rewritten_by_core(store) == bulk


def test_bulk_insert_is_idempotent(store: Engine) -> None:
    with transaction(store) as session:
        insert_receipts(session, 7, TRANSFERS[:2], WATCHED, VIEW, NOW)
    with transaction(store) as session:
        added, touched = insert_receipts(session, 7, TRANSFERS, WATCHED, VIEW, NOW)
    assert (added, touched) == (1, {"req-a"})  # only the block-25 transfer to A was new
    assert len(_receipts(store)) == 4


def test_finality_and_reorg_in_bulk(store: Engine) -> None:
    early = FinalityView(head=HEAD, safe=4, finalized=2)  # everything detected at first
    with transaction(store) as session:
        insert_receipts(session, 7, TRANSFERS, WATCHED, early, NOW)
        insert_receipts(session, 8, TRANSFERS[:1], WATCHED, early, NOW)  # another chain
    later = datetime(2026, 11, 30, 11, tzinfo=UTC)
    with transaction(store) as session:
        changed, touched = advance_states(session, 7, finalized=10, safe=20, now=later)
    assert (changed, touched) == (3, {"req-a"})  # block 5 (in + out) final, block 15 confirmed
    states = {(r.chain_id, r.block_number, r.direction): r for r in _receipts(store)}
    assert states[(7, 5, "in")].state == states[(7, 5, "out")].state == "finalized"
    assert states[(7, 15, "in")].state == "confirmed"
    assert states[(7, 25, "in")].state == "detected"
    assert states[(8, 5, "in")].state == "detected"  # other chain untouched
    assert states[(7, 15, "in")].updated_at == later
    with transaction(store) as session:
        assert advance_states(session, 7, finalized=10, safe=20, now=later) == (0, set())
        removed, touched = delete_above(session, 7, ancestor=14)
    assert (removed, touched) == (2, {"req-a"})
    assert sorted((r.chain_id, r.block_number) for r in _receipts(store)) == [
        (7, 5),
        (7, 5),
        (8, 5),
        (8, 5),
    ]


def _receipts(engine: Engine) -> list[ChainReceipt]:
    with transaction(engine) as session:
        receipts = list(session.scalars(sa.select(ChainReceipt)))
        session.expunge_all()
    return receipts


def test_finality_reads_only_above_the_finalized_block_already_recorded(store: Engine) -> None:
    """``finalized_before`` (the cursor's finalized block) bounds the finalizing UPDATE: the
    receipts finality just reached move, those at or below it are not read again."""
    early = FinalityView(head=HEAD, safe=4, finalized=2)
    with transaction(store) as session:
        insert_receipts(session, 7, TRANSFERS, WATCHED, early, NOW)
    later = datetime(2026, 11, 30, 11, tzinfo=UTC)
    with transaction(store) as session:
        changed, _ = advance_states(session, 7, 10, 20, later, finalized_before=2)
        assert changed == 3  # block 5 (in + out) finalized, block 15 confirmed
        # block 5 is at or below the recorded finalized block now: set back by hand, it is
        # left alone (the watcher never writes such a receipt, see advance_states)
        session.execute(
            sa.update(ChainReceipt).where(ChainReceipt.block_number == 5).values(state="detected")
        )
        changed, touched = advance_states(
            session, 7, 30, 30, later, finalized_before=10, want_touched=False
        )
    assert (changed, touched) == (2, set())  # blocks 15 and 25 finalized; none asked for
    states = {(r.block_number, r.direction): r.state for r in _receipts(store)}
    assert states == {
        (5, "in"): "detected",
        (5, "out"): "detected",
        (15, "in"): "finalized",
        (25, "in"): "finalized",
    }


@pytest.mark.parametrize("amount", [2**256, -1])
def test_an_amount_outside_uint256_is_refused(store: Engine, amount: int) -> None:
    """The fast path for amounts leaves anything outside uint256 to the column's processor,
    which refuses it (nothing is written)."""
    bad = TRANSFERS[0]._replace(amount=amount)
    with pytest.raises(ValueError, match="uint256"), transaction(store) as session:
        insert_receipts(session, 7, [bad], WATCHED, VIEW, NOW)
    assert _receipts(store) == []


def test_block_times_are_stored_as_the_column_processor_stores_them(store: Engine) -> None:
    """The writer's block-time shortcut (SQLite: the minute formatted once, the seconds looked
    up) gives the processor's text for every second of a span crossing minutes, hours, days
    and a year, for times out of order, and after its cache of minutes was cleared."""
    writer = writer_for(store.dialect)
    processor = writer.process["block_timestamp"]
    new_year = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    times = [*range(new_year - 3_700, new_year + 3_700), 0, 59, 60, 4_102_444_799, 1_700_000_000]
    times += [new_year + 86_400 * day + 61 * day for day in range(2_000)]  # clears the cache
    assert [writer.block_time(t) for t in times] == [
        processor(datetime.fromtimestamp(t, UTC)) for t in times
    ]


def _many(count: int) -> list[ObservedTransfer]:
    """``count`` transfers from an unwatched sender to A or B, three a block from block 30."""
    return [_transfer(30 + i // 3, i % 3, C, A if i % 2 else B, 1_000 + i) for i in range(count)]


def test_many_rows_store_what_core_stores_in_order_once(store: Engine) -> None:
    """More rows than one multi-row INSERT holds (SQLite: ``ROWS_PER_STATEMENT`` a statement,
    the rest one by one): every row stored as Core's ``insert`` stores it, in the order given,
    a key met twice in one statement or stored already skipped, the new ones counted."""
    transfers = _many(2 * ROWS_PER_STATEMENT + 7)
    transfers.insert(10, transfers[3])  # the same key twice in the first statement
    with transaction(store) as session:
        added, touched = insert_receipts(session, 7, transfers, WATCHED, VIEW, NOW)
    assert (added, touched) == (len(transfers) - 1, {"req-a"})
    with transaction(store) as session:
        again = insert_receipts(session, 7, [*transfers, TRANSFERS[0]], WATCHED, VIEW, NOW)
    assert again == (2, {"req-a"})  # TRANSFERS[0]'s in and out only
    with store.connect() as conn:
        stored = conn.execute(
            sa.select(ChainReceipt.tx_hash, ChainReceipt.event_key).order_by(ChainReceipt.id)
        ).all()
    unique = list(dict.fromkeys((t.tx_hash, t.event_key) for t in transfers))
    both_sides = (TRANSFERS[0].tx_hash, "log:0")  # its in and out
    assert [tuple(row) for row in stored] == [*unique, both_sides, both_sides]
    bulk = _raw_rows(store)
    assert _rewritten_by_core(store) == bulk


def test_a_row_the_store_refuses_fails_the_insert_and_stores_nothing(store: Engine) -> None:
    """A NOT NULL violation inside a multi-row INSERT raises (only a stored or repeated key is
    skipped), and the caller's transaction keeps none of the rows."""
    transfers = _many(ROWS_PER_STATEMENT + 3)
    transfers[5] = transfers[5]._replace(tx_hash=None)
    with pytest.raises(sa.exc.IntegrityError), transaction(store) as session:
        insert_receipts(session, 7, transfers, WATCHED, VIEW, NOW)
    assert _receipts(store) == []


def test_finality_leaves_the_receipts_written_under_the_same_view(store: Engine) -> None:
    """``written_from`` (the poll's first block): receipts from there on were written with the
    poll's states and are left alone; those below it advance; nothing to advance, nothing run."""
    early = FinalityView(head=HEAD, safe=4, finalized=2)  # everything detected
    with transaction(store) as session:
        insert_receipts(session, 7, TRANSFERS, WATCHED, early, NOW)
    later = datetime(2026, 11, 30, 11, tzinfo=UTC)
    with transaction(store) as session:
        assert advance_states(session, 7, 20, 30, later, written_from=0) == (0, set())
        changed, touched = advance_states(session, 7, 20, 30, later, written_from=15)
    assert (changed, touched) == (2, {"req-a"})  # block 5's in and out; 15 and 25 left
    states = {(r.block_number, r.direction): r.state for r in _receipts(store)}
    assert states == {
        (5, "in"): "finalized",
        (5, "out"): "finalized",
        (15, "in"): "detected",
        (25, "in"): "detected",
    }
    with transaction(store) as session:  # below 26: block 15 finalized, 25 confirmed
        assert advance_states(session, 7, 20, 30, later, written_from=26) == (2, {"req-a"})
    states = {(r.block_number, r.direction): r.state for r in _receipts(store)}
    assert (states[(15, "in")], states[(25, "in")]) == ("finalized", "confirmed")
