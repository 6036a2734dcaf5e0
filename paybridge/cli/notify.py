"""`paybridge notify send`: e-mail each new ERP invoice request's payment link to its customer."""

from __future__ import annotations

import typer

from paybridge.cli.context import USAGE_ERROR, JsonOption, config, console, engine, fail, print_json
from paybridge.config import ConfigError

app = typer.Typer(help="Payment-link e-mails to customers.", no_args_is_help=True)


@app.command("send")
def send(json_output: JsonOption = False) -> None:
    """Send the payment links not sent yet (exit 1 when a message was refused)."""
    from paybridge.notifications import send_payment_links

    cfg = config()
    try:
        summary = send_payment_links(engine(cfg), cfg)
    except ConfigError as exc:
        fail(str(exc), "see docs/api.md (Client notification)", code=USAGE_ERROR)
    except OSError as exc:
        fail(f"cannot reach the SMTP server: {exc}", "check [notifications] smtp_host/port")
    if json_output:
        print_json({"sent": summary.sent, "failed": summary.failed})
    else:
        console.print(f"{len(summary.sent)} payment links sent, {len(summary.failed)} refused")
    if summary.failed:
        fail(f"{len(summary.failed)} messages refused by the SMTP server: {summary.failed}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="notify")
