"""Run the demo: ``python -m paybridge.demo`` (what ``make demo`` does)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from paybridge_connectors.erp.connections import open_connector
from rich.console import Console
from rich.table import Table

from paybridge import audit
from paybridge.audit import checkpoint as audit_checkpoint
from paybridge.chain_sync.watcher import ChainWatcher
from paybridge.demo.ledger import ledger_summary, write_summary
from paybridge.demo.payers import fund_payers, pay_like_customers
from paybridge.demo.sap_ledger import sap_ledger_summary
from paybridge.demo.world import DemoWorld, demo_world
from paybridge.domain.amounts import format_fiat
from paybridge.eip681 import describe_amount
from paybridge.erp_sync import intake_open_invoices, payment_target, sync_open_invoices
from paybridge.imports import read_invoice_file
from paybridge.invoices import store_invoices
from paybridge.qr import write_payment_qr
from paybridge.recon_runs.run import reconcile_store
from paybridge.requests.lifecycle import FLAGS
from paybridge.requests.pipeline import create_pending_requests
from paybridge.settlement_outbox import post_due
from paybridge.settlement_views import list_settlements
from paybridge.store.db import transaction
from paybridge.store.models import PaymentRequest, ReconException

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_INVOICES = ROOT / "examples" / "invoices.csv"
OUT = Path(".paybridge-demo")

console = Console(width=max(Console().width, 160))


def invoices_in(world: DemoWorld) -> None:
    console.rule("[bold]1. Invoices in: NetSuite and SAP S/4HANA (simulators) and a CSV file")
    for label, settings in (
        ("NetSuite", world.netsuite_settings),
        ("SAP S/4HANA", world.sap_settings),
    ):
        target = payment_target(
            world.config, settings.name, settings.payment_chain, settings.payment_asset
        )
        with open_connector(settings) as erp:
            synced = sync_open_invoices(world.engine, erp, settings.name)
        taken_in = intake_open_invoices(world.engine, settings.name, target)
        console.print(
            f"{label} (connection {settings.name}): {synced.invoices} open invoices synced in "
            f"{synced.http_requests} HTTP requests, {taken_in} new (billed in {target.asset} on "
            f"{target.chain}), {synced.quarantined} quarantined"
        )
    parsed = read_invoice_file(SAMPLE_INVOICES, world.config)
    with transaction(world.engine) as session:
        fresh, _ = store_invoices(session, parsed.records, source=SAMPLE_INVOICES.name)
    console.print(
        f"{SAMPLE_INVOICES.name}: {len(fresh)} imported (from a file, not from an ERP "
        "connection: their settlements will have no ERP to post to)"
    )
    for rejection in parsed.rejections:
        console.print(f"  [yellow]rejected[/] {rejection}", highlight=False)


def payment_requests(world: DemoWorld) -> list[PaymentRequest]:
    console.rule("[bold]2. Payment requests: locked quote, deposit address, EIP-681 link, QR")
    summary = create_pending_requests(world.engine, world.config, actor="demo")
    requests = sorted((r.request for r in summary.requests), key=lambda r: r.derivation_index)
    table = Table(
        "invoice",
        "amount",
        "pay exactly",
        "deposit address",
        "payment link (EIP-681)",
        show_lines=True,
    )
    for request in requests:
        qr = write_payment_qr(request.payment_uri, world.out / "qr", request.id)
        table.add_row(
            f"{request.erp_system}/{request.invoice_id}",
            format_fiat(request.invoice_amount, request.currency),
            describe_amount(request.amount_due, request.asset_decimals, request.asset_symbol),
            request.deposit_address,
            f"{request.payment_uri}\n[dim]{qr.svg_path}[/]",
        )
    console.print(table)
    console.print(
        f"{summary.created} requests; quotes locked {world.config.quotes.lock_minutes} "
        f"min, addresses watched {world.config.quotes.late_window_hours} h longer"
    )
    return requests


def customers_pay(world: DemoWorld, requests: list[PaymentRequest]) -> None:
    console.rule("[bold]3. Customers pay on the local chain (anvil)")
    fund_payers(world.w3, world.contracts)
    table = Table("invoice", "paid", "amount", "tx")
    by_invoice = {r.invoice_id: r for r in requests}
    for payment in pay_like_customers(world.w3, world.contracts, requests):
        request = by_invoice[payment.invoice_id]
        amount = describe_amount(payment.amount, request.asset_decimals, request.asset_symbol)
        table.add_row(payment.invoice_id, payment.how, amount, payment.tx_hash)
    console.print(table)


def watch_chain(world: DemoWorld) -> None:
    console.rule("[bold]4. Chain watcher: receipts, finality, live payment status")
    report = ChainWatcher(world.config.chain("anvil"), world.config.assets, world.engine).poll()
    console.print(
        f"scanned blocks {report.scanned_from}..{report.scanned_to}: "
        f"{report.receipts_added} receipts, {report.state_changes} status changes "
        f"(head {report.head}, safe {report.safe}, finalized {report.finalized})"
    )
    with transaction(world.engine) as session:
        rows = session.scalars(sa.select(PaymentRequest).order_by(PaymentRequest.derivation_index))
        table = Table("invoice", "status", "flags", "received / due")
        for request in rows:
            table.add_row(
                request.invoice_id,
                request.status,
                " ".join(f for f in FLAGS if getattr(request, f)) or "-",
                describe_amount(
                    request.amount_received, request.asset_decimals, request.asset_symbol
                )
                + " / "
                + describe_amount(request.amount_due, request.asset_decimals, request.asset_symbol),
            )
    console.print(table)


def reconcile(world: DemoWorld) -> None:
    console.rule("[bold]5. Reconciliation: matches, exceptions, settlement journals")
    summary = reconcile_store(world.engine, world.config, actor="demo")
    console.print(
        f"run {summary.run_id}: {summary.receipts} receipts, {summary.matches} matches "
        f"({summary.matches_auto} auto), {summary.exceptions_open} open exceptions, "
        f"{len(summary.completed)} requests completed, "
        f"{len(summary.settlements_enqueued)} settlements queued for posting, "
        f"{len(summary.settlements_not_postable)} not postable (no ERP connection; "
        "recorded as needs_attention)"
    )
    with transaction(world.engine) as session:
        table = Table("exception", "reason", "request", "detail")
        for exception in session.scalars(
            sa.select(ReconException).where(ReconException.status == "open")
        ):
            table.add_row(
                exception.exception_id,
                exception.reason,
                exception.request_id or "-",
                exception.detail,
            )
    console.print(table)


def settle(world: DemoWorld) -> None:
    console.rule("[bold]6. Settlements posted to NetSuite and SAP (simulators), exactly once")
    for settings in (world.netsuite_settings, world.sap_settings):
        with open_connector(settings) as erp:
            posted = post_due(world.engine, erp, connection=settings.name)
        console.print(
            f"connection {settings.name}: {len(posted.posted)} settlements posted, "
            f"{len(posted.failed)} to retry, {len(posted.needs_attention)} failed to post"
        )
    table = Table("NetSuite invoice", "status", "amount remaining")
    for invoice_id in sorted(world.netsuite.account.transactions):
        record = world.netsuite.account.transactions[invoice_id]
        if record.get("type") == "CustInvc":
            shown = world.netsuite.account.get_record("invoice", str(invoice_id))
            table.add_row(
                str(invoice_id), shown["status"]["refName"], str(shown["amountRemaining"])
            )
    console.print(table)
    sap_items = Table("SAP open item (1710)", "customer", "amount", "cleared by")
    for key in world.sap_keys:
        item = world.sap.item(key)
        sap_items.add_row(
            f"{key.fiscal_year}/{key.accounting_document}/{key.item}",
            str(item["Customer"]),
            f"{item['AmountInTransactionCurrency']} {item['TransactionCurrency']}",
            str(item.get("ClearingAccountingDocument") or "- (open)"),
        )
    console.print(sap_items)
    outbox(world)


def outbox(world: DemoWorld) -> None:
    """Every settlement and where it ended, with the reason when it was not posted."""
    rows = list_settlements(world.engine)
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    console.print(
        f"settlement outbox ({len(rows)}): "
        + ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        + " (`paybridge settlements list` shows the same)"
    )
    table = Table("settlement", "state", "connection", "invoice", "reason", show_lines=True)
    for row in rows:
        table.add_row(
            row["settlement_id"],
            row["state"],
            row["connection"] or "(none)",
            ", ".join(f"{row['erp_system']}/{i}" for i in row["invoices"]),
            row["reason"] or "-",
        )
    console.print(table)


def audit_trail(world: DemoWorld) -> None:
    console.rule("[bold]Audit log")
    with transaction(world.engine) as session:
        checkpoint = audit_checkpoint.take(session)
        result = audit.verify(session)
    console.print(
        f"{result.entries} entries, keyed hash chain "
        f"{'[green]verified' if result.ok else '[red]BROKEN: ' + str(result.problem)}"
    )
    console.print(f"signed checkpoint (keep it outside the database): {checkpoint.token()}")


def main() -> None:
    with demo_world(OUT) as world:
        invoices_in(world)
        requests = payment_requests(world)
        customers_pay(world, requests)
        watch_chain(world)
        reconcile(world)
        settle(world)
        console.rule("[bold]7. The books: ERP tie-out and trial balance")
        summary = write_summary(
            world.out, ledger_summary(world, console) | sap_ledger_summary(world, console)
        )
        audit_trail(world)
    console.print(
        f"\nstore: {OUT / 'paybridge.db'}   QR codes: {OUT / 'qr'}/   "
        f"config: {OUT / 'paybridge.toml'}   summary: {summary}"
    )


if __name__ == "__main__":
    main()
