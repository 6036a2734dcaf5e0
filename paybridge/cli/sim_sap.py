"""`paybridge sim sap`: the local SAP simulator (S/4HANA or ECC), standalone (test infrastructure).

Registered on the `sim` group by ``register`` (the root's table, paybridge/cli/lazy.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import typer

from paybridge.cli import sim
from paybridge.cli.context import USAGE_ERROR, JsonOption, fail
from paybridge.cli.sim import serve_until_stopped, sim_app, start_listening

SEED_CURRENCY = {"1010": "EUR", "1710": "USD", "2910": "JPY", "4010": "KWD"}


def sim_sap(
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8766,
    host: Annotated[
        str,
        typer.Option("--host", help="Listen address; other than loopback only with a warning."),
    ] = "127.0.0.1",
    system: Annotated[
        str, typer.Option("--system", help="S4 (OData + SOAP) or ECC (SOAP-RFC BAPIs).")
    ] = "S4",
    seed_invoices: Annotated[
        int, typer.Option("--seed-invoices", min=0, help="Open customer invoices in 1010 (EUR).")
    ] = 0,
    clearing_delay: Annotated[
        float,
        typer.Option("--clearing-delay", min=0.0, help="Seconds before a bulk clearing applies."),
    ] = 0.2,
    latency: Annotated[
        float, typer.Option("--latency", min=0.0, help="Seconds per request.")
    ] = 0.0,
    error_rate: Annotated[float, typer.Option("--error-rate", min=0.0, max=1.0)] = 0.0,
    rate_429: Annotated[float, typer.Option("--rate-429", min=0.0, max=1.0)] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option("--drop-rate", min=0.0, max=1.0, help="Commit, then drop the connection."),
    ] = 0.0,
    retry_after: Annotated[
        int, typer.Option("--retry-after", min=0, help="Retry-After seconds on 429.")
    ] = 1,
    json_output: JsonOption = False,
) -> None:
    """Run the SAP simulator on loopback until Ctrl-C (prints the SAP_* settings)."""
    from simulators.sap import DEFAULT_CUSTOMERS, SETTLEMENT_ACCOUNTS, FaultConfig, SAPSimulator

    system = system.upper()
    if system not in ("S4", "ECC"):
        fail(f"unknown --system {system!r}", "use S4 or ECC", code=USAGE_ERROR)
    if error_rate + rate_429 + drop_rate > 1:
        fail("--error-rate + --rate-429 + --drop-rate must not exceed 1", code=USAGE_ERROR)
    simulator = SAPSimulator(
        host=host,
        port=port,
        system=system,
        clearing_delay_s=clearing_delay,
        faults=FaultConfig(
            latency_s=latency,
            error_5xx_rate=error_rate,
            rate_429=rate_429,
            commit_then_drop_rate=drop_rate,
            retry_after_s=retry_after,
        ),
    )
    today = datetime.now(UTC).date()
    for i in range(seed_invoices):
        number = f"INV-{i + 1:05d}"
        simulator.seed_open_item(
            "1010", "17100001", Decimal("100.00") + i % 97, "EUR",
            reference=number, assignment=number, posting_date=today,
        )  # fmt: skip
    stop = start_listening(simulator, host, port)
    accounts = dict.fromkeys(SEED_CURRENCY, SETTLEMENT_ACCOUNTS)
    env = {
        "SAP_SYSTEM": system,
        "SAP_BASE_URL": simulator.base_url,
        "SAP_CLIENT": simulator.client,
        "SAP_USER": simulator.user,
        "SAP_PASSWORD": simulator.password,
        "SAP_COMPANY_CODES": ",".join(SEED_CURRENCY),
        "SAP_ACCOUNTS": json.dumps(accounts, separators=(",", ":")),
        "SAP_PAYMENT_CHAIN": "anvil",  # the local chain of `paybridge init`'s config
        "SAP_PAYMENT_ASSET": "USDC",
    }
    if system.upper() == "ECC":  # the open-items BAPI reads one customer at a time
        env["SAP_CUSTOMERS"] = ",".join(DEFAULT_CUSTOMERS)
    banner = (
        f"SAP simulator (not SAP; {system}) on {simulator.base_url} with "
        f"{seed_invoices} open invoices in company code 1010."
    )
    serve_until_stopped(simulator, stop, env, banner, seed_invoices, json_output)


def register(app: typer.Typer) -> None:
    """The `sim` group with `netsuite` (paybridge.cli.sim) and `sap` (this module); the root
    (paybridge/cli/lazy.py) calls this once, when a `sim` command first runs."""
    sim.register(app)
    sim_app.command("sap")(sim_sap)
