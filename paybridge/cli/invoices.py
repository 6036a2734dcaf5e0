"""`paybridge invoices import FILE`: bring invoices in from CSV/JSON, keeping the good ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from paybridge.cli import invoice_views, problems
from paybridge.cli.context import (
    FAILURE,
    USAGE_ERROR,
    config,
    console,
    engine,
    fail,
    print_json,
    shown,
)
from paybridge.imports import ImportFileError, read_invoice_file
from paybridge.invoices import source_label, store_invoices
from paybridge.store.db import transaction

app = typer.Typer(help="Invoices received from the ERP or from files.", no_args_is_help=True)


@app.callback()
def invoices() -> None:
    """Invoices received from the ERP or from files."""


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV or JSON file of invoices.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import invoices; invalid records are reported (line, field) and skipped, the rest stored.

    Columns: invoice_id, customer_id, amount, currency, chain, asset, and optionally
    erp_system, company, due_date (YYYY-MM-DD), customer_email. Exit 0: all imported (or
    already there); 1: some records rejected, the rest imported; 2: the file cannot be read.
    """
    cfg = config()
    label = source_label(str(file))
    try:
        parsed = read_invoice_file(file, cfg)
    except ImportFileError as exc:
        fail(
            str(exc),
            "check the path, the encoding (UTF-8) and the header line "
            "(see `paybridge invoices import --help`)",
            code=USAGE_ERROR,
        )
    eng = engine(cfg)
    try:
        with transaction(eng) as session:
            fresh, already = store_invoices(session, parsed.records, source=label)
    except sa.exc.DBAPIError as exc:  # validated input should never get here; say so plainly
        fail(
            f"the store refused the import of {label} ({type(exc.orig).__name__}); "
            "nothing from this file was written",
            "re-run the import; if it fails again, report it with the file",
        )
    summary = {
        "file": label,
        "imported": len(fresh),
        "already_imported": already,
        "rejected": [
            {"line": r.line, "invoice_id": r.invoice_id, "field": r.field, "message": r.message}
            for r in parsed.rejections
        ],
    }
    if json_output:
        print_json(summary)
    else:
        console.print(
            f"{len(fresh)} imported, {already} already imported, "
            f"{len(parsed.rejections)} rejected from {shown(label)}",
            highlight=False,
        )
        if parsed.rejections:
            problems.report(
                f"{len(parsed.rejections)} records of {label} were rejected (not imported):",
                (
                    (f"{r.unit} {r.line} ({r.invoice_id or '-'}): {r.message}", f"field {r.field}")
                    for r in parsed.rejections
                ),
                "fix these records (`--json` lists every one) and import the file again; "
                "records already imported are not added twice",
            )
    if parsed.rejections:
        raise typer.Exit(FAILURE)


app.command("list")(invoice_views.list_invoices)
app.command("show")(invoice_views.show_invoice)
