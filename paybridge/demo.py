"""`make demo`: the payment-request pipeline end to end on embedded defaults.

A fresh SQLite store under ``.paybridge-demo/``, the sample invoices imported (two of them
deliberately bad, to show how rejections are reported), payment requests created with the
public anvil demo xpub and fixed demo rates, then a table of payment links and QR files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from paybridge import audit
from paybridge.config import load_config
from paybridge.eip681 import describe_amount
from paybridge.imports import read_invoice_file
from paybridge.invoices import store_invoices
from paybridge.qr import write_payment_qr
from paybridge.requests.pipeline import create_pending_requests
from paybridge.store.db import create_engine_for, migrate, transaction

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_INVOICES = ROOT / "examples" / "invoices.csv"
OUT = Path(".paybridge-demo")

console = Console(width=max(Console().width, 180))


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "qr").mkdir(parents=True)
    config = load_config(None)
    engine = create_engine_for(f"sqlite:///{OUT / 'paybridge.db'}")
    migrate(engine)
    console.rule("[bold]1. Import invoices")
    parsed = read_invoice_file(SAMPLE_INVOICES, config)
    with transaction(engine) as session:
        fresh, _ = store_invoices(session, parsed.records, source=SAMPLE_INVOICES.name)
    console.print(f"{len(fresh)} invoices imported from {SAMPLE_INVOICES.name}")
    for rejection in parsed.rejections:
        console.print(f"  [yellow]rejected[/] {rejection}", highlight=False)

    console.rule("[bold]2. Create payment requests")
    summary = create_pending_requests(engine, config, actor="demo")
    console.print(
        f"{summary.created} payment requests created (quotes locked for "
        f"{config.quotes.lock_minutes} min, watched {config.quotes.late_window_hours} h more)"
    )

    table = Table(
        "invoice",
        "amount",
        "pay exactly",
        "deposit address",
        "payment link (EIP-681)",
        title="Payment links",
        show_lines=True,
    )
    for result in summary.requests:
        request = result.request
        qr = write_payment_qr(request.payment_uri, OUT / "qr", request.invoice_id)
        table.add_row(
            f"{request.erp_system}/{request.invoice_id}",
            f"{request.invoice_amount} {request.currency}",
            describe_amount(request.amount_due, request.asset_decimals, request.asset_symbol),
            request.deposit_address,
            f"{request.payment_uri}\n[dim]{qr.svg_path}[/]",
        )
    console.print(table)

    console.rule("[bold]3. Audit log")
    with transaction(engine) as session:
        result = audit.verify(session)
    console.print(
        f"audit log: {result.entries} entries, hash chain "
        f"{'[green]verified' if result.ok else '[red]BROKEN'}"
    )
    console.print(f"\nstore: {OUT / 'paybridge.db'}   QR codes: {OUT / 'qr'}/")


if __name__ == "__main__":
    main()
