"""The settlement step writes in bulk: the statements a run issues do not grow with the number
of paid requests (chunked lookups, one bulk INSERT per table), and batching keeps the rules
of one-at-a-time queueing (a repeat is a no-op, different content under an id is refused)."""

from __future__ import annotations

import collections
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from benchmarks.reconcile_store_bench import seed
from paybridge.audit import verify
from paybridge.config import load_config
from paybridge.domain.settlements import Application, Evidence, Settlement
from paybridge.recon_runs.run import reconcile_store
from paybridge.settlement_outbox import OutboxConflictError, Queued, enqueue, enqueue_many
from paybridge.store.db import create_engine_for, migrate, transaction
from paybridge.store.models import PaymentRequest
from paybridge.store.models.outbox import SettlementOutboxRow


def _statements_of_first_run(engine: Engine, paid: int) -> collections.Counter[str]:
    seed(engine, paid)
    counts: collections.Counter[str] = collections.Counter()

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        counts[" ".join(statement.split()[:3])] += 1

    event.listen(engine, "before_cursor_execute", count)
    summary = reconcile_store(engine, load_config(None))
    event.remove(engine, "before_cursor_execute", count)
    assert len(summary.completed) == paid
    assert len(summary.settlements_not_postable) == paid  # "bench" has no ERP connection
    return counts


def test_statements_do_not_grow_with_paid_requests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    few = create_engine_for(f"sqlite:///{tmp_path / 'few.db'}")
    many = create_engine_for(f"sqlite:///{tmp_path / 'many.db'}")
    migrate(few)
    migrate(many)
    few_counts = _statements_of_first_run(few, 12)
    many_counts = _statements_of_first_run(many, 240)
    assert many_counts == few_counts
    assert few_counts["INSERT INTO settlement_outbox"] == 1
    assert few_counts["INSERT INTO audit_log"] <= 2
    with Session(many) as session:
        outbox = session.scalars(sa.select(SettlementOutboxRow)).all()
        assert len({row.settlement_id for row in outbox}) == 240
        assert {row.status for row in outbox} == {"needs_attention"}
        assert all("pbcp1:" in row.payload for row in outbox)  # the audit checkpoint
        statuses = set(session.scalars(sa.select(PaymentRequest.status)))
        assert statuses == {"completed"}
        assert verify(session).ok
    again = reconcile_store(many, load_config(None))
    assert again.completed == [] and again.settlements_not_postable == []
    with Session(many) as session:
        count = session.scalar(sa.select(sa.func.count()).select_from(SettlementOutboxRow))
        assert count == 240


def _settlement(settlement_id: str, amount: str = "100.00") -> Settlement:
    return Settlement(
        settlement_id=settlement_id,
        erp_system="netsuite",
        company="1",
        customer_id="C1",
        currency="USD",
        applications=(Application("INV-1", Decimal(amount)),),
        payment_amount=Decimal(amount),
        journal_lines=(),
        evidence=Evidence(chain_id=31337, tx_hashes=("0x" + "1" * 64,)),
        memo="test",
    )


def test_enqueue_many_keeps_the_one_at_a_time_rules(sqlite_store: Engine) -> None:
    with transaction(sqlite_store) as session:
        assert enqueue(session, _settlement("pb-a"), "netsuite")
    with transaction(sqlite_store) as session:
        new = enqueue_many(
            session,
            [
                Queued(_settlement("pb-a"), "netsuite"),  # queued before, same content
                Queued(_settlement("pb-b"), "netsuite"),
                Queued(_settlement("pb-b"), "netsuite"),  # twice in one batch
                Queued(_settlement("pb-c"), "none", "no ERP connection"),
            ],
        )
        assert new == [False, True, False, True]
    with transaction(sqlite_store) as session:
        rows = {r.settlement_id: r for r in session.scalars(sa.select(SettlementOutboxRow))}
        assert set(rows) == {"pb-a", "pb-b", "pb-c"}
        assert (rows["pb-c"].status, rows["pb-c"].last_error) == (
            "needs_attention",
            "no ERP connection",
        )
        assert rows["pb-b"].status == "pending"
    changed = _settlement("pb-a", "99.00")
    refused = [Queued(_settlement("pb-d"), "netsuite"), Queued(changed, "netsuite")]
    with (
        pytest.raises(OutboxConflictError, match="pb-a is already queued"),
        transaction(sqlite_store) as session,
    ):
        enqueue_many(session, refused)
    with Session(sqlite_store) as session:
        ids = set(session.scalars(sa.select(SettlementOutboxRow.settlement_id)))
        assert ids == {"pb-a", "pb-b", "pb-c"}  # the refused batch wrote nothing
