"""Invoice sync: ERP open invoices -> ``erp_open_invoices`` (+ quarantine), resumable.

Each page is stored together with the watermark after it in one transaction, so a crash
resumes from the last stored page and a re-run stores the same rows again (upsert), never twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from paybridge_connectors.erp.protocol import ClosedInvoice, ErpConnector, InvoicePage
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.invoices import InvoiceRecord, rows_by_invoice_key, store_invoices
from paybridge.requests.lifecycle import FINAL, Status, transition
from paybridge.store.db import transaction
from paybridge.store.models import Invoice, PaymentRequest
from paybridge.store.models.outbox import ErpInvoiceQuarantine, ErpOpenInvoice, ErpSyncState


@dataclass
class SyncSummary:
    connection: str
    pages: int = 0
    invoices: int = 0
    quarantined: int = 0
    http_requests: int = 0
    watermark: str | None = None
    #: what this run refused: {invoice_id, field, reason} (also in ``erp_invoice_quarantine``)
    quarantined_invoices: list[dict[str, str]] = field(default_factory=list)
    #: invoices that left "open" in the ERP: {invoice_id, status, detail, request_id, action}
    closed_invoices: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PaymentTarget:
    """The chain and asset (as named in paybridge.toml) that one connection's invoices are
    billed in."""

    chain: str
    asset: str


def payment_target(
    cfg: PayBridgeConfig,
    connection: str,
    chain: str | None,
    asset: str | None,
    env_prefix: str = "NETSUITE_",
) -> PaymentTarget:
    """Check an ERP connection's ``payment_chain``/``payment_asset`` against the registry.

    Refused (ConfigError naming the key) when unset, unknown, or when the chain's RPC URL is a
    placeholder (a ``.invalid`` host, as the built-in mainnet defaults have): an invoice billed
    there could never get a rate or be watched, so it must not be taken in silently.
    """

    def key(name: str) -> str:
        return f"{name} ({env_prefix}{name.upper()})"

    where = f"ERP connection {connection!r}"
    if not chain:
        raise ConfigError(
            f"{where}: {key('payment_chain')} is not set: name the chain from paybridge.toml "
            "that synced invoices are billed on (there is no default)"
        )
    if not asset:
        raise ConfigError(
            f"{where}: {key('payment_asset')} is not set: name the asset symbol on {chain} "
            "that synced invoices are billed in (there is no default)"
        )
    try:
        chain_cfg = cfg.chain(chain)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {key('payment_chain')}: {exc}") from exc
    try:
        asset_cfg = cfg.asset(chain_cfg.name, asset)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {key('payment_asset')}: {exc}") from exc
    host = urlparse(chain_cfg.rpc_url).hostname or ""
    if host.endswith(".invalid"):
        raise ConfigError(
            f"{where}: {key('payment_chain')} {chain_cfg.name!r} has the placeholder rpc_url "
            f'{chain_cfg.rpc_url}; set rpc_url of [[chains]] name = "{chain_cfg.name}" in '
            "paybridge.toml first"
        )
    return PaymentTarget(chain_cfg.name, asset_cfg.symbol)


def _insert(engine: Engine, table: Any) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def load_watermark(engine: Engine, connection: str) -> str | None:
    with transaction(engine) as session:
        state = session.get(ErpSyncState, connection)
        return state.watermark if state else None


def store_page(
    engine: Engine, connection: str, erp_system: str, page: InvoicePage
) -> list[dict[str, str]]:
    """Store one page and its watermark; returns what was done about invoices that closed."""
    now = datetime.now(UTC)
    with transaction(engine) as session:
        if page.invoices:
            rows = [
                {
                    "connection": connection,
                    "erp_system": inv.erp_system,
                    "company": inv.company,
                    "invoice_id": inv.invoice_id,
                    "invoice_number": inv.invoice_number,
                    "customer_id": inv.customer_id,
                    "amount": inv.amount,
                    "total": inv.total,
                    "currency": inv.currency,
                    "due_date": inv.due_date,
                    "last_modified": inv.last_modified,
                    "synced_at": now,
                    "ar_account": inv.ar_account,
                    "base_currency": inv.base_currency,
                    "status": "open",
                }
                for inv in page.invoices
            ]
            stmt = _insert(engine, ErpOpenInvoice.__table__)
            updated = {
                c: stmt.excluded[c]
                for c in ("invoice_number", "customer_id", "amount", "total", "currency",
                          "due_date", "last_modified", "synced_at", "ar_account",
                          "base_currency", "status")
            }  # fmt: skip
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["connection", "company", "invoice_id"], set_=updated
                ),
                rows,
            )
            # An invoice that is valid now leaves the quarantine.
            session.execute(
                sa.delete(ErpInvoiceQuarantine)
                .where(ErpInvoiceQuarantine.connection == connection)
                .where(ErpInvoiceQuarantine.invoice_id.in_([i.invoice_id for i in page.invoices]))
            )
        if page.quarantined:
            stmt = _insert(engine, ErpInvoiceQuarantine.__table__)
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["connection", "invoice_id"],
                    set_={
                        c: stmt.excluded[c]
                        for c in ("company", "field", "reason", "raw", "quarantined_at")
                    },
                ),
                [
                    {
                        "connection": connection,
                        "erp_system": q.erp_system,
                        "company": q.company,
                        "invoice_id": q.invoice_id,
                        "field": q.field,
                        "reason": q.reason,
                        "raw": json.dumps(q.raw, sort_keys=True, default=str),
                        "quarantined_at": now,
                    }
                    for q in page.quarantined
                ],
            )
        for gone in page.closed:
            session.execute(
                sa.update(ErpOpenInvoice)
                .where(
                    ErpOpenInvoice.connection == connection,
                    ErpOpenInvoice.company == gone.company,
                    ErpOpenInvoice.invoice_id == gone.invoice_id,
                )
                .values(
                    status=gone.status,
                    amount=Decimal(0),
                    last_modified=gone.last_modified,
                    synced_at=now,
                )
            )
        withdrawn = withdraw_requests(session, page.closed)
        state = session.get(ErpSyncState, connection)
        if state is None:
            session.add(
                ErpSyncState(
                    connection=connection,
                    erp_system=erp_system,
                    watermark=page.watermark,
                    updated_at=now,
                )
            )
        else:
            state.watermark, state.updated_at = page.watermark, now
    return withdrawn


def withdraw_requests(session: Session, closed: list[ClosedInvoice]) -> list[dict[str, str]]:
    """Invoices that left "open" in the ERP stop asking for money: each open payment request
    becomes ``invalid`` (so the portal and the watcher's matching drop it); crypto that still
    arrives at its address then surfaces as a reconciliation exception (refund or credit), never
    as a second settlement. A request already completed (our own payment closed the invoice)
    is left alone."""
    done: list[dict[str, str]] = []
    if not closed:
        return done
    requests = rows_by_invoice_key(
        session, PaymentRequest, [(c.erp_system, c.company, c.invoice_id) for c in closed]
    )
    events = []
    for gone in closed:
        request = requests.get((gone.erp_system, gone.company, gone.invoice_id))
        entry = {"invoice_id": gone.invoice_id, "status": gone.status, "detail": gone.detail}
        if request is None or request.status in FINAL:
            done.append({**entry, "request_id": request.id if request else "", "action": "none"})
            continue
        reason = (
            f"{gone.detail} (seen by ERP sync): payment request withdrawn so the customer is "
            "not asked to pay twice; any crypto still sent to its address goes to the exceptions "
            "queue for a refund or credit"
        )
        events.append(transition(request, Status.INVALID, actor="erp-sync", reason=reason))
        done.append({**entry, "request_id": request.id, "action": "withdrawn"})
    audit.append(session, events)
    return done


def sync_open_invoices(
    engine: Engine,
    connector: ErpConnector,
    connection: str,
    *,
    full: bool = False,
    on_page: Callable[[SyncSummary], None] | None = None,
) -> SyncSummary:
    """Fetch invoices changed since the stored watermark (or all with ``full``) and store them."""
    summary = SyncSummary(connection)
    watermark = None if full else load_watermark(engine, connection)
    for page in connector.fetch_open_invoices(watermark):
        summary.closed_invoices += store_page(engine, connection, connector.erp_system, page)
        summary.pages += 1
        summary.invoices += len(page.invoices)
        summary.quarantined += len(page.quarantined)
        summary.quarantined_invoices += [
            {"invoice_id": q.invoice_id, "field": q.field, "reason": q.reason}
            for q in page.quarantined
        ]
        summary.http_requests += page.requests_used
        summary.watermark = page.watermark
        if on_page:
            on_page(summary)
    return summary


def intake_open_invoices(engine: Engine, connection: str, target: PaymentTarget) -> int:
    """Synced open invoices without a PayBridge invoice become billable in the connection's
    asset and chain (a ``PaymentTarget`` checked by ``payment_target``).

    The mirror (``erp_open_invoices``) follows the ERP's amount remaining for tie-outs; the
    intake snapshots what is billed in crypto. Returns how many invoices were taken in.
    """
    already = sa.exists().where(
        Invoice.erp_system == ErpOpenInvoice.erp_system,
        Invoice.company == ErpOpenInvoice.company,
        Invoice.invoice_id == ErpOpenInvoice.invoice_id,
    )
    with transaction(engine) as session:
        synced = session.scalars(
            sa.select(ErpOpenInvoice)
            .where(ErpOpenInvoice.connection == connection, ~already)
            .order_by(ErpOpenInvoice.id)
        ).all()
        records = [
            InvoiceRecord(
                erp_system=inv.erp_system,
                company=inv.company,
                invoice_id=inv.invoice_id,
                customer_id=inv.customer_id,
                amount=inv.amount,
                currency=inv.currency,
                due_date=inv.due_date,
                chain=target.chain,
                asset_symbol=target.asset,
            )
            for inv in synced
            if inv.amount > 0  # compared in Python: SQLite stores exact decimals as text
        ]
        fresh, _ = store_invoices(session, records, source=f"erp:{connection}")
    return len(fresh)
