"""What an operator watches: chain lag and finality, settlements waiting, open exceptions,
the last successful run of each DAG, against the thresholds in ``[status]``.

Read-only and cheap (a few aggregate queries), so ``paybridge status`` and the monitoring DAG
can run it every few minutes. Airflow's metadata database is read with plain SQL when its URL
is given (PayBridge itself never imports Airflow); unreachable is reported, not fatal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge.config import PayBridgeConfig
from paybridge.store.db import transaction
from paybridge.store.models.chain import ChainCursor
from paybridge.store.models.outbox import SettlementOutboxRow as Outbox
from paybridge.store.models.reconciliation import ReconException

WAITING = ("pending", "posting", "failed")


@dataclass
class StatusReport:
    checked_at: str
    chains: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[dict[str, Any]] = field(default_factory=list)
    open_exceptions: dict[str, Any] = field(default_factory=dict)
    dags: dict[str, Any] = field(default_factory=dict)
    #: one line per threshold crossed, naming the figure, the limit and where to look
    breaches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _age(now: datetime, when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((now - when).total_seconds()))


def _chains(session: Any, now: datetime, report: StatusReport, cfg: PayBridgeConfig) -> None:
    limits = cfg.status
    for cursor in session.scalars(sa.select(ChainCursor).order_by(ChainCursor.chain_name)):
        head = cursor.head_block
        scanned = cursor.next_block - 1
        lag_blocks = max(0, head - scanned) if head is not None else None
        gap = head - cursor.finalized_block if head and cursor.finalized_block else None
        stalled = bool(cursor.halted_reason) or (
            gap is not None and gap > limits.max_finality_gap_blocks
        )
        row = {
            "chain": cursor.chain_name,
            "head": head,
            "cursor": scanned,
            "lag_blocks": lag_blocks,
            "lag_seconds": _age(now, cursor.updated_at),
            "finalized": cursor.finalized_block,
            "finality": "stalled" if stalled else "advancing",
            "halted_reason": cursor.halted_reason,
        }
        report.chains.append(row)
        name = cursor.chain_name
        if lag_blocks is not None and lag_blocks > limits.max_chain_lag_blocks:
            report.breaches.append(
                f"chain {name}: {lag_blocks} blocks behind the head (limit "
                f"{limits.max_chain_lag_blocks}): check the chain watch DAG and the RPC node"
            )
        if (row["lag_seconds"] or 0) > limits.max_chain_lag_seconds:
            report.breaches.append(
                f"chain {name}: watcher last advanced {row['lag_seconds']} s ago (limit "
                f"{limits.max_chain_lag_seconds} s): is paybridge_chain_watch running?"
            )
        if stalled:
            report.breaches.append(
                f"chain {name}: finality stalled ({cursor.halted_reason or f'{gap} blocks'}): "
                "check the node's finalized tag and the chain watch log"
            )


def _settlements(session: Any, now: datetime, report: StatusReport, cfg: PayBridgeConfig) -> None:
    limits = cfg.status
    query = (
        sa.select(
            Outbox.connection,
            Outbox.status,
            sa.func.count(),
            sa.func.min(Outbox.created_at),
        )
        .where(Outbox.status.in_((*WAITING, "needs_attention")))
        .group_by(Outbox.connection, Outbox.status)
    )
    per_connection: dict[str, dict[str, Any]] = {}
    for connection, status, count, oldest in session.execute(query):
        row = per_connection.setdefault(
            connection,
            {
                "connection": connection,
                "pending": 0,
                "oldest_pending_seconds": None,
                "needs_attention": 0,
                "oldest_needs_attention_seconds": None,
            },
        )
        kind = "needs_attention" if status == "needs_attention" else "pending"
        row[kind] += count
        age = _age(now, oldest)
        key = f"oldest_{kind}_seconds"
        row[key] = max(row[key] or 0, age or 0)
    for connection, row in sorted(per_connection.items()):
        report.settlements.append(row)
        if (row["oldest_pending_seconds"] or 0) > limits.max_pending_settlement_age_seconds:
            report.breaches.append(
                f"ERP connection {connection}: a settlement has waited "
                f"{row['oldest_pending_seconds']} s to post (limit "
                f"{limits.max_pending_settlement_age_seconds} s): is paybridge_post_settlements "
                "running and the ERP reachable?"
            )
        if row["needs_attention"] > limits.max_needs_attention_settlements:
            report.breaches.append(
                f"ERP connection {connection}: {row['needs_attention']} settlements need "
                "attention: `paybridge settlements list`, then `paybridge settlements requeue`"
            )


def _exceptions(session: Any, now: datetime, report: StatusReport, cfg: PayBridgeConfig) -> None:
    ages = [
        _age(now, created) or 0
        for created in session.scalars(
            sa.select(ReconException.created_at).where(ReconException.status != "resolved")
        )
    ]
    buckets = {"under_1h": 0, "1h_to_1d": 0, "over_1d": 0}
    for age in ages:
        key = "under_1h" if age < 3600 else "1h_to_1d" if age < 86_400 else "over_1d"
        buckets[key] += 1
    oldest = max(ages, default=None)
    report.open_exceptions = {"count": len(ages), "oldest_seconds": oldest, **buckets}
    if oldest is not None and oldest > cfg.status.max_open_exception_age_seconds:
        report.breaches.append(
            f"{len(ages)} reconciliation exceptions open, oldest {oldest} s (limit "
            f"{cfg.status.max_open_exception_age_seconds} s): `paybridge exceptions list`"
        )


def _dags(
    airflow_db_url: str | None, now: datetime, report: StatusReport, cfg: PayBridgeConfig
) -> None:
    if not airflow_db_url:
        report.dags = {
            "available": False,
            "reason": "Airflow metadata DB not configured (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)",
        }
        return
    try:
        engine = sa.create_engine(airflow_db_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT dag_id, MAX(end_date) FROM dag_run WHERE state = 'success' "
                    "GROUP BY dag_id"
                )
            ).all()
        engine.dispose()
    except Exception as exc:  # reported, not fatal: the store figures still count
        report.dags = {"available": False, "reason": f"Airflow metadata DB unreachable: {exc}"}
        return
    last = {}
    for dag_id, end in rows:
        when = datetime.fromisoformat(end) if isinstance(end, str) else end
        last[dag_id] = {
            "last_success": when.isoformat() if when else None,
            "age_seconds": _age(now, when),
        }
    report.dags = {"available": True, "last_success": last}
    for dag_id, limit in sorted(cfg.status.max_dag_success_age_seconds.items()):
        age = last.get(dag_id, {}).get("age_seconds")
        if age is None or age > limit:
            seen = "never succeeded" if age is None else f"last succeeded {age} s ago"
            report.breaches.append(
                f"DAG {dag_id} {seen} (limit {limit} s): read its failed runs in Airflow"
            )


def collect_status(
    engine: Engine,
    cfg: PayBridgeConfig,
    *,
    airflow_db_url: str | None = None,
    now: datetime | None = None,
) -> StatusReport:
    now = now or datetime.now(UTC)
    report = StatusReport(checked_at=now.isoformat())
    with transaction(engine) as session:
        _chains(session, now, report, cfg)
        _settlements(session, now, report, cfg)
        _exceptions(session, now, report, cfg)
    _dags(airflow_db_url, now, report, cfg)
    return report
