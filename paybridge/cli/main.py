"""`paybridge`: the command line of finance ops, ERP admins and auditors."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from paybridge.audit.keys import AuditKeyError
from paybridge.cli import (
    addresses,
    api,
    audit,
    chain,
    core,
    erp,
    invoices,
    notify,
    reconcile,
    reconcile_store,
    report_period,
    requests,
    settlements,
    sim,
    sim_sap,
    status,
    users,
    webhooks,
)
from paybridge.cli.auth_gate import RecordingGroup, authenticate
from paybridge.cli.context import USAGE_ERROR, errors, fail, private_umask, shown, state
from paybridge.secrets_guard import PrivateKeyMaterialError, scan_arguments


class _PayBridgeApp(typer.Typer):
    """Errors any command can hit that are configuration, not failure, exit 2 with the fix."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except AuditKeyError as exc:
            errors.print(f"[bold red]Error:[/] {shown(exc)}", highlight=False)
            sys.exit(USAGE_ERROR)


app = _PayBridgeApp(
    help="PayBridge: invoice in your ERP, get paid in crypto, close the books.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=RecordingGroup,
)


@app.callback()
def main(
    ctx: typer.Context,
    config_path: Annotated[
        str | None,
        typer.Option("--config", envvar="PAYBRIDGE_CONFIG", help="Config file (TOML)."),
    ] = None,
) -> None:
    """Refuses private keys anywhere on the command line before anything else runs; files the
    commands create (config, store, reports, exports, QR codes) are readable by the owner only;
    on a store with users, the command runs as the user of $PAYBRIDGE_TOKEN, if their role may."""
    private_umask()
    try:
        scan_arguments(sys.argv[1:])
    except PrivateKeyMaterialError as exc:
        fail(str(exc), code=USAGE_ERROR)
    state.config_path = config_path
    state.user = None
    authenticate(ctx)


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
app.add_typer(report_period.app, name="report")
status.register(app)
sim.register(app)
sim_sap.register()  # `sim sap` on the same `sim` group
api.register(app)
users.register(app)
webhooks.register(app)
notify.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
