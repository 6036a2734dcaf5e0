"""`paybridge status [--json]`: the figures an operator watches; exit 1 past a threshold."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from paybridge.cli.context import FAILURE, JsonOption, config, console, engine, print_json, shown

AirflowDbOption = Annotated[
    str | None,
    typer.Option(
        "--airflow-db",
        envvar="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        help="Airflow metadata DB URL, for the last successful run of each DAG.",
    ),
]


def status(json_output: JsonOption = False, airflow_db: AirflowDbOption = None) -> None:
    """Chains (head, cursor, lag, finality), settlements waiting per ERP connection, open
    exceptions by age, last successful DAG runs; thresholds in [status] of paybridge.toml."""
    from paybridge.health import collect_status

    cfg = config()
    report = collect_status(engine(cfg), cfg, airflow_db_url=airflow_db or None)
    if json_output:
        print_json(report.as_dict())
    else:
        chains = Table("chain", "head", "cursor", "lag blocks", "lag s", "finality", title="Chains")
        for c in report.chains:
            chains.add_row(
                *(shown(c[k]) for k in ("chain", "head", "cursor", "lag_blocks")),
                shown(c["lag_seconds"]),
                shown(c["finality"]),
            )
        console.print(chains)
        settle = Table(
            "ERP connection",
            "pending",
            "oldest pending s",
            "needs attention",
            "oldest needs attention s",
            title="Settlements waiting",
        )
        for s in report.settlements:
            settle.add_row(
                *(
                    shown(s[k])
                    for k in (
                        "connection",
                        "pending",
                        "oldest_pending_seconds",
                        "needs_attention",
                        "oldest_needs_attention_seconds",
                    )
                )
            )
        console.print(settle)
        console.print(f"Open exceptions: {shown(report.open_exceptions)}")
        console.print(f"DAGs: {shown(report.dags)}")
        for line in report.breaches:
            console.print(f"[bold red]Attention:[/] {shown(line)}")
        if not report.breaches:
            console.print("[green]All figures within the thresholds.[/]")
    if report.breaches:
        raise typer.Exit(FAILURE)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
