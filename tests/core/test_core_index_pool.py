"""Reserved index blocks (the API's path): unique indexes, no hole a live process cannot fill,
rolled-back orders give their index back, and the audit chain (appended at commit) verifies."""

from __future__ import annotations

import contextlib
import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from paybridge_connectors.rates.fixed import FixedRateSource
from sqlalchemy.engine import Engine

from paybridge import audit
from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.config import load_config
from paybridge.invoices import InvoiceRecord
from paybridge.requests.index_pool import IndexPool
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction
from paybridge.store.models import AuditEntry, DerivationCounter, PaymentRequest

THREADS = 6
ORDERS = 8


class _Refused(Exception):
    """An order whose transaction fails after it took its index."""


def _invoice(invoice_id: str) -> InvoiceRecord:
    return InvoiceRecord(
        "api",
        "key_1",
        invoice_id,
        "C1",
        Decimal("10.00"),
        "USD",
        date(2026, 12, 1),
        "anvil",
        "USDC",
    )


def _create(engine: Engine, pool: IndexPool, invoice_id: str, *, fail: bool = False) -> None:
    config, wallet = load_config(None), WatchOnlyWallet(ANVIL_DEMO_XPUB)
    rates = FixedRateSource({("USDC", "USD"): Decimal(1)})
    for attempt in range(30):
        try:
            with transaction(engine) as session:
                create_payment_requests(
                    session,
                    [_invoice(invoice_id)],
                    config=config,
                    rates_for_chain=lambda _c: rates,
                    wallet=wallet,
                    actor="test",
                    index_pool=pool,
                )
                if fail:
                    raise _Refused(invoice_id)
            return
        except sa.exc.OperationalError:  # SQLite "database is locked" under contention
            if attempt == 29:
                raise


def _indexes(engine: Engine) -> list[int]:
    with transaction(engine) as session:
        return sorted(session.scalars(sa.select(PaymentRequest.derivation_index)))


def test_two_processes_pools_share_no_index_and_leave_only_their_free_indexes(
    store: Engine,
) -> None:
    pools = [IndexPool(store, block=3), IndexPool(store, block=3)]  # two API workers
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for order in range(ORDERS):
                fail = order % 4 == 3  # a quarter of the orders roll back after taking an index
                with contextlib.suppress(_Refused):
                    _create(store, pools[number % 2], f"T{number}-{order}", fail=fail)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    used = _indexes(store)
    assert len(used) == THREADS * ORDERS * 3 // 4
    assert len(set(used)) == len(used)
    with transaction(store) as session:
        counter = session.scalar(sa.select(DerivationCounter.next_index))
    free = [
        i
        for pool in pools
        for i in pool._free.get(WatchOnlyWallet(ANVIL_DEMO_XPUB).fingerprint, [])
    ]
    # every index below the counter is used or waiting in a live pool: no hole is left behind
    assert sorted(used + free) == list(range(counter))
    assert len(free) <= 2 * (3 - 1) + THREADS * ORDERS // 4  # blocks' tails + given back
    with transaction(store) as session:
        result = audit.verify(session)
    assert result.ok, result.problem
    assert result.entries == len(used)


def test_a_rolled_back_order_gives_its_index_to_the_next_one(store: Engine) -> None:
    pool = IndexPool(store, block=4)
    _create(store, pool, "A")
    with pytest.raises(_Refused):
        _create(store, pool, "B", fail=True)
    _create(store, pool, "C")
    with transaction(store) as session:
        rows = dict(
            session.execute(
                sa.select(PaymentRequest.invoice_id, PaymentRequest.derivation_index)
            ).all()
        )
    assert rows == {"A": 0, "C": 1}  # B's index 1 went back and C got it: no hole
    with transaction(store) as session:
        entries = session.scalars(sa.select(AuditEntry.entity_id)).all()
    assert len(entries) == 2  # B's audit entry rolled back with it


def test_a_second_process_reserves_the_next_block(store: Engine) -> None:
    first, second = IndexPool(store, block=4), IndexPool(store, block=4)
    fingerprint = WatchOnlyWallet(ANVIL_DEMO_XPUB).fingerprint
    assert first.take(fingerprint, 2) == [0, 1]
    assert second.take(fingerprint, 1) == [4]
    assert first.take(fingerprint, 3) == [2, 3, 8]  # its block's rest, then a new block


def test_top_up_reserves_now_so_a_take_inside_a_writing_transaction_needs_none(
    store: Engine,
) -> None:
    """create-order claims its Idempotency-Key before taking an index: on SQLite a reserve
    then (a transaction of its own) would wait for that transaction's write lock forever."""
    pool = IndexPool(store, block=4)
    fingerprint = WatchOnlyWallet(ANVIL_DEMO_XPUB).fingerprint
    pool.top_up(fingerprint, 1)
    pool.top_up(fingerprint, 1)  # already held: no second block
    with transaction(store) as session:
        assert session.get(DerivationCounter, fingerprint).next_index == 4
        session.execute(
            sa.update(DerivationCounter).values(next_index=DerivationCounter.next_index)
        )
        assert pool.take(fingerprint, 1) == [0]  # from memory, while this transaction writes


def test_an_invoice_that_already_has_a_request_keeps_it_and_returns_the_index(
    store: Engine,
) -> None:
    pool = IndexPool(store, block=4)
    _create(store, pool, "A")
    _create(store, pool, "A")  # again: the existing request stands, index 1 goes back
    _create(store, pool, "B")
    with transaction(store) as session:
        rows = dict(
            session.execute(
                sa.select(PaymentRequest.invoice_id, PaymentRequest.derivation_index)
            ).all()
        )
    assert rows == {"A": 0, "B": 1}
