"""Exactly-once posting under faults: 500 settlements, 30% of requests failing (5xx, 429 and
"committed, then the connection dropped"), one worker on SQLite and two at once on PostgreSQL.
Afterwards NetSuite holds every settlement exactly once: 0 duplicates, 0 missing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from paybridge_connectors.erp.netsuite.connector import NetSuiteConnector
from paybridge_connectors.erp.protocol import ErpUnavailableError
from sqlalchemy.engine import Engine

from paybridge import settlement_outbox
from paybridge.domain.settlements import Settlement
from paybridge.settlement_outbox import OutboxPolicy, SettleSummary
from paybridge.store.db import transaction
from simulators.netsuite import FaultConfig, NetSuiteSimulator

COUNT = 500
CHAOS = FaultConfig(
    error_5xx_rate=0.10, rate_429=0.10, commit_then_drop_rate=0.10, retry_after_s=None, seed=7
)
POLICY = OutboxPolicy(max_attempts=50, backoff_base=timedelta(0), batch_size=25)


def _queue(
    sim: NetSuiteSimulator,
    engine: Engine,
    make_settlement: Callable[..., Settlement],
    count: int = COUNT,
) -> dict[str, int]:
    invoices = sim.seed_invoices(count, customers=40)
    by_settlement = {f"pb-{i:05d}": invoice for i, invoice in enumerate(invoices)}
    with transaction(engine) as session:
        for sid, invoice in by_settlement.items():
            settlement_outbox.enqueue(session, make_settlement(sim, invoice, sid), "ns")
    return by_settlement


def _assert_exactly_once(
    sim: NetSuiteSimulator, engine: Engine, by_settlement: dict[str, int]
) -> None:
    payments = sim.account.payments_by_external_id()
    journals = sim.account.transactions_by_external_id("Journal")
    duplicates = [sid for sid, ids in payments.items() if len(ids) != 1]
    missing = [sid for sid in by_settlement if sid not in payments]
    assert (duplicates, missing) == ([], [])
    assert set(payments) == set(by_settlement)
    assert {sid for sid, ids in journals.items() if len(ids) == 1} == {
        f"{sid}-JE" for sid in by_settlement
    }
    for sid, invoice_id in by_settlement.items():
        invoice = sim.account.transactions[invoice_id]
        applied = sum(
            (app["amount"] for pid in payments[sid] for app in sim.account.applications[pid]),
            Decimal(0),
        )
        assert applied == invoice["foreigntotal"], sid
        assert invoice["foreignamountunpaid"] == 0 and invoice["status"] == "B", sid
    assert settlement_outbox.status_counts(engine) == {"posted": len(by_settlement)}
    assert sim.server.counters.dropped_after_commit > 0  # the hard case really happened


def test_500_settlements_with_30_percent_faults_post_exactly_once(
    sim: NetSuiteSimulator, engine: Engine, ns_config, make_settlement
) -> None:
    by_settlement = _queue(sim, engine, make_settlement)
    sim.set_faults(CHAOS)
    with NetSuiteConnector(ns_config(sim)) as conn:
        summary = settlement_outbox.post_due(engine, conn, worker="solo", policy=POLICY)
        assert conn.transport.stats.retries > 0
    assert len(summary.posted) == COUNT and not summary.needs_attention
    _assert_exactly_once(sim, engine, by_settlement)


def test_two_workers_on_postgresql_post_each_settlement_once(
    sim: NetSuiteSimulator, pg_engine: Engine, ns_config, make_settlement
) -> None:
    by_settlement = _queue(sim, pg_engine, make_settlement)
    sim.set_faults(CHAOS)
    results: dict[str, SettleSummary] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with NetSuiteConnector(ns_config(sim)) as conn:
                results[name] = settlement_outbox.post_due(
                    pg_engine, conn, worker=name, policy=POLICY
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    posted_1, posted_2 = set(results["w1"].posted), set(results["w2"].posted)
    assert posted_1 and posted_2, "both workers must have taken part"
    assert not posted_1 & posted_2 and len(posted_1 | posted_2) == COUNT
    _assert_exactly_once(sim, pg_engine, by_settlement)


def test_a_worker_that_died_mid_post_is_taken_over_without_duplicates(
    sim: NetSuiteSimulator, engine: Engine, connector: NetSuiteConnector, make_settlement
) -> None:
    by_settlement = _queue(sim, engine, make_settlement, count=6)
    policy = OutboxPolicy(lease=timedelta(0), batch_size=3)
    crashed = settlement_outbox.claim(engine, "crashed-worker", policy)
    # It reached NetSuite for the first claim before dying; the outbox never heard back.
    first = crashed[0].settlement_id
    connector.post_settlement(Settlement.from_json(__import__("json").loads(crashed[0].payload)))
    time.sleep(0.01)  # lease (0 s) expired
    summary = settlement_outbox.post_due(engine, connector, worker="rescuer", policy=policy)
    assert first in summary.posted and len(summary.posted) == 6
    assert len(sim.account.payments_by_external_id()[first]) == 1
    assert settlement_outbox.status_counts(engine) == {"posted": 6}
    assert set(sim.account.payments_by_external_id()) == set(by_settlement)


def test_a_retry_of_the_dead_worker_takes_its_claims_back_before_the_lease_ends(
    sim: NetSuiteSimulator, engine: Engine, connector: NetSuiteConnector, make_settlement
) -> None:
    """An Airflow retry (same worker name) after its first try was killed mid-post: the rows
    that try claimed are released at once, the one it had already posted is not posted twice,
    and another worker's claim is left alone."""
    by_settlement = _queue(sim, engine, make_settlement, count=6)
    policy = OutboxPolicy(batch_size=3)  # the default 5-minute lease: nothing expires here
    crashed = settlement_outbox.claim(engine, "airflow:post:run-1:ns", policy)
    connector.post_settlement(Settlement.from_json(__import__("json").loads(crashed[0].payload)))
    other = settlement_outbox.claim(engine, "airflow:post:run-2:ns", policy)
    assert settlement_outbox.post_due(engine, connector, worker="x", policy=policy).posted == []
    assert settlement_outbox.release_claims(engine, "airflow:post:run-1:ns") == 3
    summary = settlement_outbox.post_due(
        engine, connector, worker="airflow:post:run-1:ns", policy=policy
    )
    assert sorted(summary.posted) == sorted(c.settlement_id for c in crashed)
    assert len(sim.account.payments_by_external_id()[crashed[0].settlement_id]) == 1
    assert settlement_outbox.status_counts(engine) == {"posted": 3, "posting": 3}
    assert settlement_outbox.release_claims(engine, "airflow:post:run-1:ns") == 0
    assert {c.settlement_id for c in other} | set(summary.posted) == set(by_settlement)


def test_retry_after_is_honoured(sim: NetSuiteSimulator, ns_config) -> None:
    sim.set_faults(FaultConfig(rate_429=1.0, retry_after_s=1))
    with NetSuiteConnector(ns_config(sim, max_attempts=2)) as conn:
        started = time.monotonic()
        with pytest.raises(ErpUnavailableError, match="429"):
            conn.find_settlement("pb-none")
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0  # waited what Retry-After asked, not the 5 ms backoff
    assert sim.server.counters.by_status[429] == 2


def test_transient_failures_exhausted_end_in_failed_then_needs_attention(
    sim: NetSuiteSimulator, engine: Engine, ns_config, make_settlement
) -> None:
    by_settlement = _queue(sim, engine, make_settlement, count=1)
    sim.set_faults(FaultConfig(error_5xx_rate=1.0))
    policy = OutboxPolicy(max_attempts=2, backoff_base=timedelta(0))
    with NetSuiteConnector(ns_config(sim, max_attempts=2)) as conn:
        summary = settlement_outbox.post_due(engine, conn, policy=policy)
    (sid,) = by_settlement
    assert summary.failed == [sid] and summary.needs_attention == [sid]
    assert "gave up after 2 attempts" in summary.errors[sid]
    assert settlement_outbox.status_counts(engine) == {"needs_attention": 1}
    # Ops fixed the cause: requeue and it posts.
    sim.set_faults(FaultConfig())
    settlement_outbox.requeue(engine, sid)
    with NetSuiteConnector(ns_config(sim)) as conn:
        assert settlement_outbox.post_due(engine, conn, policy=policy).posted == [sid]
