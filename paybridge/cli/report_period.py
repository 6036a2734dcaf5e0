"""`paybridge report period --from D --to D --out DIR`: the period-close pack for auditors."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from paybridge.cli.context import USAGE_ERROR, config, engine, fail, print_json, shown

app = typer.Typer(help="Reports for auditors (period-close pack).", no_args_is_help=True)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: expected a date such as 2026-01-31", code=USAGE_ERROR)


@app.command("period")
def period(
    start: Annotated[str, typer.Option("--from", help="First day of the period (UTC).")],
    end: Annotated[str, typer.Option("--to", help="Last day of the period (UTC, inclusive).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the pack.")],
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Reconciliation rules (engine TOML config).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the manifest.")] = False,
) -> None:
    """Roll-forward tied to the chain, settlements with gain/loss, write-offs, open exceptions,
    ERP tie-out and a SHA-256 manifest; the same store gives byte-identical files.

    Exit 1 when a roll-forward line does not tie (difference, chain unreachable)."""
    from paybridge_reconciliation.config import ReconConfig
    from pydantic import ValidationError

    from paybridge.recon_runs.period import PeriodError, write_period_pack

    first, last = _day(start, "--from"), _day(end, "--to")
    cfg = config()
    try:
        recon = ReconConfig.from_toml(rules) if rules else ReconConfig()
    except (OSError, ValueError, ValidationError) as exc:
        fail(f"reconciliation rules {rules}: {exc}", code=USAGE_ERROR)
    try:
        manifest = write_period_pack(engine(cfg), cfg, first, last, out, recon)
    except PeriodError as exc:
        fail(str(exc), code=USAGE_ERROR)
    except OSError as exc:
        fail(f"the pack was not written to {out}: {exc}")
    if json_output:
        print_json(manifest)
    else:
        typer.echo(f"period pack {first} to {last} written to {shown(out)}")
        for note in manifest["chains"].values():
            typer.echo(f"  {shown(note)}")
    if manifest["rollforward_not_tied"]:
        fail(f"the roll-forward does not tie on every line: see {out / 'rollforward.csv'}")
