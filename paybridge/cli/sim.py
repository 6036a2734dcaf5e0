"""`paybridge sim netsuite`: the local NetSuite simulator, standalone (test infrastructure).

Wired by ``sim_sap.register(app)``, from the root table in paybridge/cli/lazy.py.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import threading
from decimal import Decimal
from typing import Annotated, Protocol

import typer

from paybridge.cli.context import USAGE_ERROR, JsonOption, console, errors, fail, print_json, shown

sim_app = typer.Typer(
    help="Local simulators for tests and demos (not the real systems).", no_args_is_help=True
)


@sim_app.callback()
def sim() -> None:
    """Local simulators for tests and demos (not the real systems)."""


@sim_app.command("netsuite")
def sim_netsuite(
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8765,
    host: Annotated[
        str,
        typer.Option("--host", help="Listen address; other than loopback only with a warning."),
    ] = "127.0.0.1",
    seed_invoices: Annotated[int, typer.Option("--seed-invoices", min=0)] = 0,
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
    time_zone: Annotated[
        str,
        typer.Option("--time-zone", help="User time-zone preference used by SuiteQL timestamps."),
    ] = "UTC",
    suitecloud_plus: Annotated[
        int,
        typer.Option(
            "--suitecloud-plus-licenses", min=0, help="Concurrency limit = 5 + 10 per licence."
        ),
    ] = 1,
    json_output: JsonOption = False,
) -> None:
    """Run the NetSuite simulator on loopback until Ctrl-C (prints the NETSUITE_* settings)."""
    from simulators.netsuite import (
        DEFAULT_GRANT,
        SEEDED_SETTLEMENT_ACCOUNTS,
        FaultConfig,
        NetSuiteSimulator,
    )

    if error_rate + rate_429 + drop_rate > 1:
        fail("--error-rate + --rate-429 + --drop-rate must not exceed 1", code=USAGE_ERROR)
    from zoneinfo import available_timezones

    if time_zone not in available_timezones():
        fail(f"unknown --time-zone {time_zone!r}", "use an IANA name such as Europe/Berlin",
             code=USAGE_ERROR)  # fmt: skip
    simulator = NetSuiteSimulator(
        host=host,
        port=port,
        time_zone=time_zone,
        suitecloud_plus_licenses=suitecloud_plus,
        faults=FaultConfig(
            latency_s=latency,
            error_5xx_rate=error_rate,
            rate_429=rate_429,
            commit_then_drop_rate=drop_rate,
            retry_after_s=retry_after,
        ),
    )
    simulator.seed_invoices(seed_invoices, amount=Decimal("100.00"))
    stop = start_listening(simulator, host, port)
    env = {
        "NETSUITE_ACCOUNT": simulator.account_id,
        "NETSUITE_CONSUMER_KEY": DEFAULT_GRANT.consumer_key,
        "NETSUITE_CONSUMER_SECRET": DEFAULT_GRANT.consumer_secret,
        "NETSUITE_TOKEN_ID": DEFAULT_GRANT.token_id,
        "NETSUITE_TOKEN_SECRET": DEFAULT_GRANT.token_secret,
        "NETSUITE_BASE_URL": simulator.base_url,
        "NETSUITE_PAYMENT_CHAIN": "anvil",  # the local chain of `paybridge init`'s config
        "NETSUITE_PAYMENT_ASSET": "USDC",
        "NETSUITE_ACCOUNTS": json.dumps(SEEDED_SETTLEMENT_ACCOUNTS, separators=(",", ":")),
    }
    banner = (
        f"NetSuite simulator (not NetSuite) on {simulator.base_url} with "
        f"{seed_invoices} open invoices."
    )
    serve_until_stopped(simulator, stop, env, banner, seed_invoices, json_output)


class _Serving(Protocol):
    base_url: str

    def start(self) -> object: ...

    def stop(self) -> None: ...


def start_listening(simulator: _Serving, host: str, port: int) -> threading.Event:
    """Start a simulator; the event is set by SIGTERM. Warns when not on loopback."""
    try:
        simulator.start()
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}", "choose another --port", code=USAGE_ERROR)
    stop = threading.Event()
    # SIGTERM (docker, supervisors, scripts) and Ctrl-C both stop it cleanly; SIGINT alone is
    # not enough because shells start background jobs with SIGINT ignored. Installed before the
    # settings are printed, so a script that stops it as soon as it reads them stops it cleanly.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    if not _is_loopback(host):
        errors.print(
            f"[bold yellow]Warning:[/] listening on {shown(host)}, not loopback: other machines "
            "can reach the simulator, and its test credentials are printed below. Use the "
            "default --host 127.0.0.1 unless you need that.",
            highlight=False,
        )
    return stop


def serve_until_stopped(
    simulator: _Serving,
    stop: threading.Event,
    env: dict[str, str],
    banner: str,
    seeded: int,
    json_output: bool,
) -> None:
    """Print the settings a connector needs (``export`` lines, or JSON), then serve until
    Ctrl-C or SIGTERM."""
    if json_output:
        print_json({"base_url": simulator.base_url, "seeded_invoices": seeded, "env": env})
    else:
        console.print(f"{banner} Ctrl-C to stop. Settings:", highlight=False)
        for key, value in env.items():
            typer.echo(f"export {key}='{value}'")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def register(app: typer.Typer) -> None:
    """Wires every command of this module (once, from paybridge/cli/lazy.py)."""
    app.add_typer(sim_app, name="sim")
