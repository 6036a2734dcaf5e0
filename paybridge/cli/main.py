"""`paybridge`: the command line of finance ops, ERP admins and auditors."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paybridge.cli import (
    addresses,
    audit,
    chain,
    core,
    erp,
    invoices,
    reconcile,
    reconcile_store,
    requests,
    settlements,
)
from paybridge.cli.context import USAGE_ERROR, fail, private_umask, state
from paybridge.secrets_guard import PrivateKeyMaterialError, scan_arguments

app = typer.Typer(
    help="PayBridge: invoice in your ERP, get paid in crypto, close the books.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    config_path: Annotated[
        str | None,
        typer.Option("--config", envvar="PAYBRIDGE_CONFIG", help="Config file (TOML)."),
    ] = None,
) -> None:
    """Refuses private keys anywhere on the command line before anything else runs; files the
    commands create (config, store, reports, exports, QR codes) are readable by the owner only."""
    private_umask()
    try:
        scan_arguments(sys.argv[1:])
    except PrivateKeyMaterialError as exc:
        fail(str(exc), code=USAGE_ERROR)
    state.config_path = config_path


app.command("init")(core.init)
app.add_typer(invoices.app, name="invoices")
app.add_typer(requests.app, name="requests")
app.add_typer(addresses.app, name="addresses")
app.add_typer(audit.app, name="audit")
erp.register(app)
chain.register(app)
app.command("reconcile-files")(reconcile.reconcile_files)
reconcile_store.register(app)
app.add_typer(settlements.app, name="settlements")

if __name__ == "__main__":  # pragma: no cover
    app()
