"""Requests created in bulk (one driver-level executemany, shared values processed once, audit
events built from the rows' values) store exactly what Core's ``insert`` and the ORM's
attribute reads would give, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.requests.building import quote_evidence
from paybridge.requests.lifecycle import snapshot
from paybridge.requests.service import create_payment_requests
from paybridge.store.bulk import bulk_insert
from paybridge.store.db import transaction
from paybridge.store.models import AuditEntry, PaymentRequest

NOW = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)


def _create(engine, invoices, config, wallet, rates):  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return create_payment_requests(
            session,
            invoices,
            config=config,
            rates_for_chain=lambda _c: rates,
            wallet=wallet,
            actor="test",
            now=NOW,
        )


def _raw(engine: Engine, table: sa.Table, order: str) -> list[tuple]:
    names = ", ".join(c.name for c in table.columns)
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.exec_driver_sql(f"select {names} from {table.name} order by {order}")
        ]


def test_bulk_rows_are_what_core_insert_stores(
    store: Engine, config, wallet, fixed_rates, make_invoice
) -> None:
    """The same requests written again through Core's insert (after deleting them) read back
    equal, column by column, to the bulk-written ones; amounts equal but spelled apart keep
    their own spelling (a value is processed once per object, never per equal value)."""
    invoices = [
        make_invoice(1, "100.00"),
        make_invoice(2, "100.0"),  # equal to the first, stored as its own text
        make_invoice(3, "0.50", "ETH"),
        make_invoice(4, "100.00"),
    ]
    made = [r.request for r in _create(store, invoices, config, wallet, fixed_rates)]
    table = PaymentRequest.__table__
    bulk = _raw(store, table, "invoice_id")
    copies = [{c.key: getattr(request, c.key) for c in table.columns} for request in made]
    with store.begin() as conn:
        conn.execute(sa.delete(table))
        conn.execute(sa.insert(table), copies)
    assert _raw(store, table, "invoice_id") == bulk
    assert [r.invoice_amount for r in made] == [
        Decimal("100.00"),
        Decimal("100.0"),
        Decimal("0.50"),
        Decimal("100.00"),
    ]
    amounts = {r.invoice_id: r for r in made}
    with transaction(store) as session:
        stored = {r.invoice_id: r for r in session.scalars(sa.select(PaymentRequest))}
    assert str(stored["INV-00002"].invoice_amount) == "100.0"
    assert str(stored["INV-00001"].invoice_amount) == "100.00"
    assert stored["INV-00003"].amount_due == amounts["INV-00003"].amount_due


def test_audit_entries_hold_snapshot_and_quote_evidence(
    store: Engine, config, wallet, fixed_rates, make_invoice
) -> None:
    """Each creation entry's ``after`` is exactly ``snapshot`` plus ``quote_evidence`` of the
    request as read through the ORM, and the chain verifies."""
    invoices = [make_invoice(n, "12.34", "ETH" if n % 2 else "USDC") for n in range(1, 7)]
    made = [r.request for r in _create(store, invoices, config, wallet, fixed_rates)]
    with transaction(store) as session:
        entries = {e.entity_id: e for e in session.scalars(sa.select(AuditEntry))}
        requests = {r.id: r for r in session.scalars(sa.select(PaymentRequest))}
        assert audit.verify(session).ok
    assert set(entries) == {r.id for r in made}
    for request_id, entry in entries.items():
        request = requests[request_id]
        expected = {**snapshot(request), **quote_evidence(request)}
        assert entry.after == audit.canonical_json(expected)
        assert entry.reason == f"invoice netsuite/1/{request.invoice_id}"


def test_bulk_insert_is_built_once_per_kind_of_dialect(store: Engine) -> None:
    with store.connect():
        pass
    table = AuditEntry.__table__
    columns = [c.key for c in table.columns]
    first = bulk_insert(table, store.dialect, columns)
    second_engine = sa.create_engine(store.url)
    try:
        with second_engine.connect() as conn:  # connected: the server version is known
            assert bulk_insert(table, conn.dialect, columns) is first
    finally:
        second_engine.dispose()
