"""Which ERP connection a settlement is posted to, or why it cannot be posted at all.

A settlement is queued for posting only when its invoice came from an ERP connection that this
store knows: the invoice's source is ``erp:<connection>`` and that connection has synced at
least once (``erp_sync_state``). Anything else (an invoice from an import file, a request with
no invoice, a connection that was never configured here) has no ERP to post to. Such a
settlement is still recorded in the outbox, as ``needs_attention`` with the reason, so that it
never waits silently under a connection no worker will ever post for;
``paybridge settlements list`` shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paybridge.domain.settlements import Settlement
from paybridge.invoices import rows_by_invoice_key
from paybridge.store.models import Invoice, PaymentRequest
from paybridge.store.models.outbox import ErpOpenInvoice, ErpSyncState

#: price of one invoice currency unit in the company's base currency (None: no rate known)
FxRate = Callable[[str, str], Decimal | None]

#: the outbox ``connection`` of a settlement whose invoice has no ERP connection
NO_CONNECTION = ""
ERP_SOURCE = "erp:"


@dataclass(frozen=True)
class Route:
    """Where a settlement goes: ``refusal`` is None when it can be posted to ``connection``."""

    connection: str
    refusal: str | None = None
    #: the refusal without per-invoice detail, to group many refusals in one line
    category: str | None = None
    #: the invoice as the ERP gave it at sync time (None: not synced from an ERP)
    erp_invoice: ErpOpenInvoice | None = None

    @property
    def postable(self) -> bool:
        return self.refusal is None

    def prepare(self, settlement: Settlement, fx_rate: FxRate) -> tuple[Settlement, Route]:
        """The settlement with what the ERP needs from its invoice (A/R account, exchange rate
        to the company's base currency), or this route refused with what is missing."""
        invoice = self.erp_invoice
        if not self.postable or invoice is None:
            return settlement, self
        settlement = replace(settlement, ar_account=invoice.ar_account)
        base = invoice.base_currency
        if base and base.upper() != settlement.currency.upper():
            rate = fx_rate(settlement.currency, base)
            if rate is None:
                pair = f"{settlement.currency}/{base}"
                return settlement, replace(
                    self,
                    refusal=f"invoice {invoice.invoice_id} is in {settlement.currency} and its "
                    f"company's base currency is {base}: no exchange rate {pair} is configured "
                    f'(paybridge.toml [fx_rates] "{pair}"); add it, then requeue',
                    category=f"no exchange rate {pair}",
                )
            settlement = replace(settlement, exchange_rate=rate)
        return settlement, self


def known_connections(session: Session) -> set[str]:
    """ERP connections configured for this store: every connection that has synced."""
    return set(session.scalars(sa.select(ErpSyncState.connection)))


def routes_for(session: Session, requests: Sequence[PaymentRequest]) -> dict[str, Route]:
    """Request id -> where its settlement goes, or why nowhere: one chunked invoice lookup
    (``paybridge.invoices.rows_by_invoice_key``) for the whole batch, never a guess."""
    known = known_connections(session)
    keys = [(r.erp_system, r.company, r.invoice_id) for r in requests]
    invoices = rows_by_invoice_key(session, Invoice, keys)
    synced = rows_by_invoice_key(session, ErpOpenInvoice, keys)
    routes = {}
    for r, key in zip(requests, keys, strict=True):
        route = _route(r, invoices.get(key), known)
        mirror = synced.get(key)
        if mirror is not None and mirror.connection == route.connection:
            route = replace(route, erp_invoice=mirror)
        routes[r.id] = route
    return routes


def refresh_erp_details(
    session: Session, settlement: Settlement, connection: str, fx_rate: FxRate
) -> tuple[Settlement, str | None]:
    """The settlement with its invoice's ERP details as synced now and the exchange rate as
    configured now (for a requeue after the cause was fixed), or why it still cannot go."""
    first = settlement.applications[0].invoice_id
    key = (settlement.erp_system, settlement.company, first)
    mirror = rows_by_invoice_key(session, ErpOpenInvoice, [key]).get(key)
    if mirror is None or mirror.connection != connection:
        return settlement, None
    prepared, route = Route(connection, erp_invoice=mirror).prepare(settlement, fx_rate)
    return prepared, route.refusal


def route_for(session: Session, request: PaymentRequest) -> Route:
    """The route of one request's settlement (see ``routes_for``)."""
    return routes_for(session, [request])[request.id]


def _route(request: PaymentRequest, invoice: Invoice | None, known: set[str]) -> Route:
    name = f"{request.erp_system}/{request.company}/{request.invoice_id}"
    if invoice is None:
        return Route(
            NO_CONNECTION,
            f"invoice {name} is not in the store's invoices (request created without one); "
            "there is no ERP connection to post to",
            "no stored invoice, so no ERP connection",
        )
    source = invoice.source
    if not source.startswith(ERP_SOURCE):
        return Route(
            NO_CONNECTION,
            f"invoice {name} was imported from {source!r}, not synced from an ERP "
            "connection; there is no ERP connection to post to: record the payment in the "
            "ERP by hand (`paybridge settlements show` has the journal)",
            f"invoice imported from {source!r}, not synced from an ERP connection",
        )
    connection = source.removeprefix(ERP_SOURCE)
    if connection not in known:
        return Route(
            connection,
            f"ERP connection {connection!r} of invoice {name} is not configured in this "
            "store (no `paybridge erp sync` recorded for it)",
            f"ERP connection {connection!r} is not configured",
        )
    return Route(connection)


__all__ = [
    "NO_CONNECTION",
    "Route",
    "known_connections",
    "refresh_erp_details",
    "route_for",
    "routes_for",
]
