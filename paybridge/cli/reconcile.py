"""`paybridge reconcile-files`: re-perform a reconciliation from exported files, no database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from paybridge.cli.context import shown

USAGE_ERROR = 2
errors = Console(stderr=True)


def reconcile_files(
    requests: Annotated[Path, typer.Option("--requests", help="Payment requests CSV.")],
    receipts: Annotated[Path, typer.Option("--receipts", help="On-chain receipts CSV.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    rates: Annotated[
        Path | None, typer.Option("--rates", help="Rates CSV (fair value, late re-quotes).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Reconciliation config (TOML).")
    ] = None,
    reports: Annotated[
        bool, typer.Option(help="Also write report.html, report.pdf and report.xlsx.")
    ] = True,
    tie_outs: Annotated[
        Path | None,
        typer.Option("--tie-outs", help="Tie-outs CSV for the reports (a store pack's inputs/)."),
    ] = None,
    resolutions: Annotated[
        Path | None,
        typer.Option("--resolutions", help="Manual resolutions CSV for the reports (ditto)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the manifest as JSON.")
    ] = False,
) -> None:
    """Reconcile exported requests and receipts; same inputs give byte-identical outputs."""
    from paybridge_reconciliation.files import run_files  # pandas: only when the command runs
    from paybridge_reconciliation.inputs import InputFileError

    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=errors,
            transient=True,
            disable=json_output,
        ) as progress:
            task = progress.add_task("starting", total=None)
            manifest = run_files(
                requests,
                receipts,
                out,
                rates_path=rates,
                config_path=config,
                reports=reports,
                tie_outs_path=tie_outs,
                resolutions_path=resolutions,
                step=lambda msg: progress.update(task, description=msg),
            )
    except InputFileError as exc:
        errors.print(f"[bold red]Error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(USAGE_ERROR) from exc
    except (ValidationError, ValueError, OSError) as exc:
        errors.print(f"[bold red]Error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(USAGE_ERROR) from exc
    if json_output:
        typer.echo(json.dumps(manifest, indent=2, sort_keys=True))
        return
    counts = manifest["counts"]
    typer.echo(
        f"{counts['requests']} requests, {counts['matches_auto']} auto matches, "
        f"{counts['matches'] - counts['matches_auto']} proposed, "
        f"{counts['exceptions']} exceptions, {counts['journal_lines']} journal lines -> {out}"
    )
