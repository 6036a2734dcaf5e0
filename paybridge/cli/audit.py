"""`paybridge audit verify`: prove the audit log was not edited, deleted or reordered."""

from __future__ import annotations

from typing import Annotated

import typer

from paybridge import audit as audit_log
from paybridge.cli.context import config, console, engine, errors, print_json, shown
from paybridge.store.db import transaction

app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@app.callback()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@app.command("verify")
def verify(
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-compute the hash chain; exit 1 and name the first bad entry if anything was altered."""
    with transaction(engine(config())) as session:
        result = audit_log.verify(session)
    if json_output:
        print_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "first_bad_entry": result.first_bad_seq,
                "problem": result.problem,
            }
        )
    elif result.ok:
        console.print(f"audit log intact: {result.entries} entries, hash chain verified")
    else:
        errors.print(
            f"[bold red]audit log broken at entry {result.first_bad_seq}:[/] "
            f"{shown(result.problem)}",
            highlight=False,
        )
    if not result.ok:
        raise typer.Exit(1)
