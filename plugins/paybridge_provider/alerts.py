"""Failure alerts by e-mail through Airflow's SMTP provider.

Every PayBridge task has ``alert_on_failure`` as its failure callback. Recipients come from
``PAYBRIDGE_ALERT_EMAILS`` (comma-separated) or the Airflow Variable ``paybridge_alert_emails``;
the mail server from the SMTP Connection ``PAYBRIDGE_ALERT_SMTP_CONN_ID`` (default
``smtp_default``). The mail names the DAG, the task, the run and the error, whose text says what
was refused and the next step (see ``failures``).
"""

from __future__ import annotations

import html
import logging
import os
from typing import Any

log = logging.getLogger(__name__)
RECIPIENTS_VARIABLE = "paybridge_alert_emails"


def alert_recipients() -> list[str]:
    from airflow.sdk import Variable

    raw = os.environ.get("PAYBRIDGE_ALERT_EMAILS") or Variable.get(RECIPIENTS_VARIABLE, "")
    return [address.strip() for address in str(raw).split(",") if address.strip()]


def alert_message(context: dict[str, Any]) -> tuple[str, str]:
    """Subject and HTML body for one failed task instance."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        task_id = f"{task_id}[{map_index}]"
    error = str(context.get("exception") or "no error recorded: read the task log")
    subject = f"[PayBridge] {dag_id} / {task_id} failed"
    rows = {
        "DAG": dag_id,
        "Task": task_id,
        "Run": context.get("run_id", "?"),
        "Try": getattr(ti, "try_number", "?"),
        "What happened": error,
        "Log": getattr(ti, "log_url", "") or "Airflow UI > DAG > run > task > Logs",
    }
    body = "".join(
        f"<p><b>{html.escape(k)}</b>: {html.escape(str(v))}</p>" for k, v in rows.items()
    )
    return subject, body


def alert_on_failure(context: dict[str, Any]) -> None:
    """Send the failure alert; a missing SMTP setup is logged, never raised (the task has
    already failed and its own error must stay the one Airflow records)."""
    recipients = alert_recipients()
    subject, body = alert_message(context)
    if not recipients:
        log.warning("no alert recipients (%s): %s", RECIPIENTS_VARIABLE, subject)
        return
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn_id = os.environ.get("PAYBRIDGE_ALERT_SMTP_CONN_ID", "smtp_default")
    try:
        with SmtpHook(smtp_conn_id=conn_id) as smtp:
            smtp.send_email_smtp(to=recipients, subject=subject, html_content=body)
    except Exception:
        log.exception("could not send the failure alert %r via %s", subject, conn_id)
