"""`paybridge`: the command line of finance ops, ERP admins and auditors."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from paybridge.cli.lazy import LazyRootGroup


class _PayBridgeApp(typer.Typer):
    """Errors any command can hit that are configuration, not failure, exit 2 with the fix.
    Heavy commands first start again with glibc's huge pages on (`paybridge.cli.relaunch`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:  # the console script: the command line is sys.argv
            from paybridge.cli.relaunch import relaunch_with_huge_pages

            relaunch_with_huge_pages(sys.argv[1:])
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            # paybridge.audit.keys is imported by the commands that sign or check: if it is not
            # loaded, this cannot be its AuditKeyError (and --help stays free of it)
            keys = sys.modules.get("paybridge.audit.keys")
            if keys is None or not isinstance(exc, keys.AuditKeyError):
                raise
            from paybridge.cli.context import USAGE_ERROR, errors, shown

            errors.print(f"[bold red]Error:[/] {shown(exc)}", highlight=False)
            sys.exit(USAGE_ERROR)


app = _PayBridgeApp(
    help="PayBridge: invoice in your ERP, get paid in crypto, close the books.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyRootGroup,
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
    from paybridge.cli.auth_gate import authenticate
    from paybridge.cli.context import USAGE_ERROR, fail, private_umask, state
    from paybridge.secrets_guard import PrivateKeyMaterialError, scan_arguments

    private_umask()
    try:
        scan_arguments(sys.argv[1:])
    except PrivateKeyMaterialError as exc:
        fail(str(exc), code=USAGE_ERROR)
    state.config_path = config_path
    state.user = None
    authenticate(ctx)


# The commands: paybridge/cli/lazy.py (COMMANDS), each module imported when it runs.

if __name__ == "__main__":  # pragma: no cover
    app()
