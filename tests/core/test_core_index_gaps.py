"""Concurrent `requests create` runs over the same invoices burn no derivation index.

A wallet discovers deposit addresses by scanning until it meets a run of unused ones (its gap
limit, usually 20): an allocated index that no request carries is an address nobody will ever
pay, so two runs racing over overlapping invoices must leave the used indexes contiguous.
"""

from __future__ import annotations

import multiprocessing as mp
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins
from paybridge_connectors.rates.fixed import FixedRateSource

from paybridge.addresses import ANVIL_DEMO_XPUB, WatchOnlyWallet
from paybridge.config import load_config
from paybridge.invoices import InvoiceRecord
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import create_engine_for, migrate, transaction
from paybridge.store.models import DerivationCounter, PaymentRequest

INVOICES = 400
BATCH = 40
# worker -> order in which it walks the shared invoice list: two identical runs (the issue's
# case), one backwards and one interleaved, so batches overlap fully and partly.
ORDERS = ("forward", "forward", "backward", "odd-first")


def _ordered(ids: list[str], order: str) -> list[str]:
    if order == "backward":
        return ids[::-1]
    if order == "odd-first":
        return ids[1::2] + ids[::2]
    return ids


def _worker(url: str, order: str, start: mp.Barrier) -> None:  # type: ignore[type-arg]
    config = load_config(None)
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    rates = FixedRateSource({("USDC", "USD"): Decimal(1)})
    engine = create_engine_for(url)
    ids = _ordered([f"GAP-{i:05d}" for i in range(INVOICES)], order)
    invoices = [
        InvoiceRecord(
            "netsuite", "1", inv, "C1", Decimal("10.00"), "USD", date(2026, 12, 1), "anvil", "USDC"
        )
        for inv in ids
    ]
    start.wait()
    for first in range(0, len(invoices), BATCH):
        with transaction(engine) as session:
            create_payment_requests(
                session,
                invoices[first : first + BATCH],
                config=config,
                rates_for_chain=lambda _c: rates,
                wallet=wallet,
                actor=f"worker-{order}",
            )
    engine.dispose()


def _used_indexes(url: str) -> list[int]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(ORDERS))
    procs = [ctx.Process(target=_worker, args=(url, o, barrier)) for o in ORDERS]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0, f"worker failed with exit code {p.exitcode}"
    engine = create_engine_for(url)
    with transaction(engine) as session:
        rows = session.execute(
            sa.select(PaymentRequest.invoice_id, PaymentRequest.derivation_index)
        ).all()
    engine.dispose()
    assert len(rows) == INVOICES and len({r.invoice_id for r in rows}) == INVOICES
    return sorted(r.derivation_index for r in rows)


def test_concurrent_runs_over_the_same_invoices_leave_no_index_gap(database_url: str) -> None:
    url = database_url
    engine = create_engine_for(url)
    migrate(engine)
    engine.dispose()
    used = _used_indexes(url)
    assert len(set(used)) == len(used), "two requests share a derivation index"
    largest_gap = max(b - a - 1 for a, b in zip([-1, *used], used, strict=False))
    assert used == list(range(INVOICES)), (
        f"indexes burned by lost races: {used[-1] + 1 - INVOICES} unused below "
        f"{used[-1]}, largest gap {largest_gap}"
    )


def _another_account_xpub() -> str:
    """Account 2' of anvil's mnemonic: a valid xpub that is not the demo key (account 1')."""
    seed = Bip39SeedGenerator("test test test test test test test test test test test junk")
    node = Bip44.FromSeed(seed.Generate(), Bip44Coins.ETHEREUM).Purpose().Coin().Account(2)
    return node.PublicKey().ToExtended()


def test_invoice_taken_under_another_xpub_meanwhile_leaves_no_hole(
    store: sa.Engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The one race the counter lock cannot cover: a creator on a *different* xpub inserts an
    invoice of our batch after we looked. Our batch is renumbered, not left with a hole."""
    from paybridge.requests import service

    config = load_config(None)
    ours, theirs = WatchOnlyWallet(ANVIL_DEMO_XPUB), WatchOnlyWallet(_another_account_xpub())
    rates = FixedRateSource({("USDC", "USD"): Decimal(1)})
    invoices = [
        InvoiceRecord(
            "netsuite", "1", f"R-{i}", "C1", Decimal("5.00"), "USD", None, "anvil", "USDC"
        )
        for i in range(6)
    ]

    def create(wallet: WatchOnlyWallet, batch: list[InvoiceRecord]):  # type: ignore[no-untyped-def]
        with transaction(store) as session:
            return create_payment_requests(
                session,
                batch,
                config=config,
                rates_for_chain=lambda _c: rates,
                wallet=wallet,
                actor="t",
            )

    create(theirs, [invoices[2]])
    real_lookup = service.rows_by_invoice_key
    calls = {"n": 0}

    def late_view(session, model, keys):  # type: ignore[no-untyped-def]
        calls["n"] += 1  # the first two looks (before and after the lock) miss R-2
        return {} if calls["n"] <= 2 else real_lookup(session, model, keys)

    monkeypatch.setattr(service, "rows_by_invoice_key", late_view)
    results = create(ours, invoices)
    assert [r.created for r in results] == [True, True, False, True, True, True]
    assert results[2].request.xpub_fingerprint == theirs.fingerprint
    mine = sorted(r.request.derivation_index for r in results if r.created)
    assert mine == [0, 1, 2, 3, 4]
    for r in results:
        if r.created:
            assert r.request.deposit_address == ours.address(r.request.derivation_index)
    with transaction(store) as session:
        counter = session.get(DerivationCounter, ours.fingerprint)
        stored = session.scalars(
            sa.select(PaymentRequest.derivation_index).where(
                PaymentRequest.xpub_fingerprint == ours.fingerprint
            )
        ).all()
    assert counter.next_index == 5 and sorted(stored) == [0, 1, 2, 3, 4]


def test_gap_report_names_the_wallet_gap_limit_unpaid_requests_need(store: sa.Engine) -> None:
    """Allocation is gap-free, but unpaid requests are unused addresses to a wallet."""
    from paybridge.requests.gaps import gap_reports

    config = load_config(None)
    wallet = WatchOnlyWallet(ANVIL_DEMO_XPUB)
    rates = FixedRateSource({("USDC", "USD"): Decimal(1)})
    invoices = [
        InvoiceRecord(
            "netsuite", "1", f"P-{i}", "C1", Decimal("5.00"), "USD", None, "anvil", "USDC"
        )
        for i in range(40)
    ]
    with transaction(store) as session:
        create_payment_requests(
            session,
            invoices,
            config=config,
            rates_for_chain=lambda _c: rates,
            wallet=wallet,
            actor="t",
        )
        paid = [0, 3, 29]  # 25 unpaid between 3 and 29, 10 after 29
        session.execute(
            sa.update(PaymentRequest)
            .where(PaymentRequest.derivation_index.in_(paid))
            .values(amount_received=5_000_000)
        )
    with transaction(store) as session:
        (report,) = gap_reports(session)
    assert (report.allocated, report.highest_index, report.holes, report.paid) == (40, 39, 0, 3)
    assert (report.longest_unpaid_run, report.unpaid_since_last_paid) == (25, 10)
    assert report.needed_gap_limit == 26
