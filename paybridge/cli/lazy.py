"""The root command group, loading each command's module only when that command runs.

Why: importing every command module (sqlalchemy models, pydantic config, pandas, web3...)
made `paybridge --help` take seconds. The root lists its commands from ``COMMANDS`` below
(name, module, one-line help) and imports a module the first time one of its commands is
resolved; `--help` at the root imports none of them. tests/core/test_cli_lazy.py checks the
table against the real commands (names and help text), so the listing cannot drift.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import typer
from typer._click.exceptions import UsageError
from typer.core import HAS_RICH, TyperCommand, TyperGroup

#: ctx.meta key holding the root's command line (the auth gate names the leaf command from it)
ARGS_KEY = "paybridge.args"


@dataclass(frozen=True)
class Entry:
    """One top-level command or group: where it lives and what `--help` says about it."""

    module: str
    #: how the module wires it: "register" (its ``register(app)``), "app:ATTR" (a sub-Typer
    #: added under the entry's name) or "command:FUNC" (a single command)
    wiring: str
    help: str


_INVOICES = "Invoices received from the ERP or from files."
_ADDRESSES = "Watch-only deposit addresses derived from the merchant's account-level xpub."
_EXCEPTIONS = "The reconciliation exceptions queue: list, propose, approve, reject (maker-checker)."
_SETTLEMENTS = "The settlement outbox: what was posted to the ERP, what was not and why."

#: Every top-level command, in the order `paybridge --help` lists them (commands, then groups,
#: as Typer orders an eagerly built app).
COMMANDS: dict[str, Entry] = {
    "init": Entry(
        "paybridge.cli.core",
        "command:init",
        "Write ./paybridge.toml and the audit key ring (if absent); create or upgrade the store.",
    ),
    "settle": Entry(
        "paybridge.cli.erp",
        "register",
        "Post due settlements of this ERP connection from the outbox (idempotent; safe to re-run).",
    ),
    "watch": Entry(
        "paybridge.cli.chain",
        "register",
        "Watch deposit addresses on chain: record transfers, follow reorgs and finality.",
    ),
    "reconcile-files": Entry(
        "paybridge.cli.reconcile",
        "command:reconcile_files",
        "Reconcile exported requests and receipts; same inputs give byte-identical outputs.",
    ),
    "reconcile": Entry(
        "paybridge.cli.reconcile_store",
        "register",
        "Reconcile requests and receipts in the store; settle what is paid (idempotent).",
    ),
    "status": Entry(
        "paybridge.cli.status",
        "register",
        "Chains (head, cursor, lag, finality), settlements waiting per ERP connection, open\n"
        "exceptions by age, last successful DAG runs; thresholds in [status] of paybridge.toml.",
    ),
    "api": Entry(
        "paybridge.cli.api",
        "register",
        "Serve the payment API (OpenAPI document at /openapi.json) and deliver webhooks.",
    ),
    "invoices": Entry("paybridge.cli.invoices", "app:app", _INVOICES),
    "requests": Entry(
        "paybridge.cli.requests", "app:app", "Crypto payment requests created from invoices."
    ),
    "addresses": Entry("paybridge.cli.addresses", "app:app", _ADDRESSES),
    "audit": Entry(
        "paybridge.cli.audit", "app:app", "The append-only audit log, chained with a keyed hash."
    ),
    "erp": Entry(
        "paybridge.cli.erp", "register", "ERP connections: test them, sync open invoices."
    ),
    "receipts": Entry("paybridge.cli.chain", "register", "Transfers the chain watcher recorded."),
    "exceptions": Entry("paybridge.cli.reconcile_store", "register", _EXCEPTIONS),
    "tieout": Entry(
        "paybridge.cli.reconcile_store",
        "register",
        "Tie-outs for auditors (differences listed).",
    ),
    "settlements": Entry("paybridge.cli.settlements", "app:app", _SETTLEMENTS),
    "report": Entry(
        "paybridge.cli.report_period", "app:app", "Reports for auditors (period-close pack)."
    ),
    "sim": Entry(
        "paybridge.cli.sim_sap",
        "register",
        "Local simulators for tests and demos (not the real systems).",
    ),
    "api-keys": Entry(
        "paybridge.cli.api", "register", "API keys for integrators (scoped, revocable)."
    ),
    "users": Entry("paybridge.cli.users", "register", "People and their roles."),
    "webhooks": Entry("paybridge.cli.webhooks", "register", "Signed webhooks to your systems."),
    "notify": Entry("paybridge.cli.notify", "register", "Payment-link e-mails to customers."),
}

#: (module, wiring) -> the click group its commands were built into (once per process)
_BUILT: dict[tuple[str, str], Any] = {}


def _noop() -> None:
    """Makes the scratch app a group, so each command keeps the name it is registered under."""


def load_command(name: str) -> Any:
    """The real click command or group ``name``, built exactly as an eager root would."""
    entry = COMMANDS[name]
    key = (entry.module, entry.wiring)
    if key not in _BUILT:
        module = importlib.import_module(entry.module)
        scratch = typer.Typer(add_completion=False)
        scratch.callback()(_noop)
        how, _, attr = entry.wiring.partition(":")
        if how == "register":
            module.register(scratch)
        elif how == "app":
            scratch.add_typer(getattr(module, attr), name=name)
        else:
            scratch.command(name)(getattr(module, attr))
        _BUILT[key] = typer.main.get_command(scratch)
    return _BUILT[key].commands[name]


class LazyRootGroup(TyperGroup):
    """The root group: commands from ``COMMANDS``, modules imported on first use; also keeps
    the command line so the auth gate can name the leaf command."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(name for name in COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # the root's own --help: name and help text, nothing imported
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        return load_command(cmd_name)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Bare `paybridge`: the help and exit 2, as Typer does, without its error renderer."""
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            if self.rich_markup_mode is None or not HAS_RICH:
                super().format_help(ctx, formatter)
            else:
                from paybridge.cli.root_help import print_root_help

                print_root_help(self, ctx)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        ctx.meta[ARGS_KEY] = list(args)
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:  # Typer's suggestion, from the table instead of self.commands
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                suggestions = ", ".join(f"{m!r}" for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise
