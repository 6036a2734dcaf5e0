"""Create payment requests for every stored invoice that has none yet, batch by batch.

Used by the CLI, the demo and the Airflow DAG alike. Each batch is its own transaction, so a
crash keeps finished batches and a re-run picks up exactly where it stopped. Invoices whose
asset has no trustworthy rate right now (stale feed, depeg) are skipped and reported; they
get their request on a later run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from paybridge_connectors.rates.base import Rate, RateSource, RateUnavailable
from sqlalchemy.engine import Engine

from paybridge.addresses import WatchOnlyWallet
from paybridge.config import PayBridgeConfig
from paybridge.config.merchant_keys import merchant_wallet
from paybridge.invoices import InvoiceRecord, to_record
from paybridge.rate_sources import ChainRates
from paybridge.requests import DEFAULT_BATCH
from paybridge.requests.service import CreatedRequest, create_payment_requests
from paybridge.store.db import transaction
from paybridge.store.models import Invoice, PaymentRequest


class _LockedRates:
    """One rate per asset and currency for the whole run: every request quoted alike. A rate
    that is unavailable stays unavailable for the run (asked once, not once per invoice)."""

    def __init__(self, inner: RateSource) -> None:
        self._inner = inner
        self._cache: dict[tuple[str, str], Rate | str] = {}

    def get_rate(self, asset_symbol: str, currency: str, at: datetime | None = None) -> Rate:
        key = (asset_symbol.upper(), currency.upper())
        if key not in self._cache:
            try:
                self._cache[key] = self._inner.get_rate(asset_symbol, currency, at)
            except RateUnavailable as exc:
                self._cache[key] = str(exc)
        found = self._cache[key]
        if isinstance(found, str):
            raise RateUnavailable(found)
        return found


@dataclass
class RunSummary:
    created: int = 0
    existing: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (invoice key, reason)
    requests: list[CreatedRequest] = field(default_factory=list)


def pending_invoices(engine: Engine, invoice_ids: Iterable[str] = ()) -> list[InvoiceRecord]:
    """Stored invoices without a payment request (optionally only these invoice ids)."""
    wanted = list(invoice_ids)
    has_request = sa.exists().where(
        PaymentRequest.erp_system == Invoice.erp_system,
        PaymentRequest.company == Invoice.company,
        PaymentRequest.invoice_id == Invoice.invoice_id,
    )
    query = sa.select(Invoice).where(~has_request).order_by(Invoice.id)
    if wanted:
        query = query.where(Invoice.invoice_id.in_(wanted))
    with transaction(engine) as session:
        return [to_record(inv) for inv in session.scalars(query)]


def create_pending_requests(
    engine: Engine,
    config: PayBridgeConfig,
    *,
    actor: str,
    invoice_ids: Iterable[str] = (),
    batch_size: int = DEFAULT_BATCH,
    rates_for_chain: Callable[[str], RateSource] | None = None,
    on_progress: Callable[[int], None] = lambda _done: None,
) -> RunSummary:
    """Requests for pending invoices; a chain without a usable merchant xpub (unset, invalid,
    a public test key) raises :class:`ConfigError` before anything is written."""
    sources: dict[str, RateSource] = {}

    def rates(chain: str) -> RateSource:
        if chain not in sources:
            inner = rates_for_chain(chain) if rates_for_chain else ChainRates(config, chain)
            sources[chain] = _LockedRates(inner)
        return sources[chain]

    summary = RunSummary()
    todo = []
    pending = pending_invoices(engine, invoice_ids)
    # refuse a chain without a usable key before anything is written; once per chain
    wallets = {c: merchant_wallet(config, c) for c in dict.fromkeys(i.chain for i in pending)}
    for invoice in pending:
        try:
            rates(invoice.chain).get_rate(invoice.asset_symbol, invoice.currency)
        except RateUnavailable as exc:
            reason = f"no rate for {invoice.asset_symbol}/{invoice.currency} on {invoice.chain}"
            summary.skipped.append((invoice.invoice_id, f"{reason}: {exc}"))
            continue
        todo.append(invoice)
    for wallet, invoices in _by_wallet(wallets, todo):
        for start in range(0, len(invoices), batch_size):
            batch = invoices[start : start + batch_size]
            with transaction(engine) as session:
                results = create_payment_requests(
                    session, batch, config=config, rates_for_chain=rates, wallet=wallet, actor=actor
                )
            summary.requests.extend(results)
            summary.created += sum(r.created for r in results)
            summary.existing += sum(not r.created for r in results)
            on_progress(len(batch))
    return summary


def _by_wallet(
    wallets: dict[str, WatchOnlyWallet], invoices: list[InvoiceRecord]
) -> list[tuple[WatchOnlyWallet, list[InvoiceRecord]]]:
    """Invoices grouped by the xpub their chain derives from, in input order within a group
    (chains sharing [merchant] xpub share one index sequence, as before per-chain keys)."""
    by_fingerprint: dict[str, WatchOnlyWallet] = {}
    groups: dict[str, list[InvoiceRecord]] = {}
    for invoice in invoices:
        wallet = wallets[invoice.chain]
        by_fingerprint.setdefault(wallet.fingerprint, wallet)
        groups.setdefault(wallet.fingerprint, []).append(invoice)
    return [(by_fingerprint[key], group) for key, group in groups.items()]
