"""Payment-link e-mails: each new payment request of an ERP invoice that names a customer
e-mail gets one message with its payment page, amount and address (never a key or token).

Sent by `paybridge notify send` (or the DAG that creates requests): a request is marked sent
after the SMTP server accepted the message, so a crash in between sends it again once, and
a re-run sends nothing twice. Templates are per merchant (``[notifications] templates_dir``).
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.engine import Engine

from paybridge.config import ConfigError, PayBridgeConfig
from paybridge.eip681 import describe_amount
from paybridge.store.db import transaction
from paybridge.store.models import Invoice, PaymentNotification, PaymentRequest

BUILT_IN_TEMPLATES = Path(__file__).parent / "notify_templates"
PASSWORD_ENV = "PAYBRIDGE_SMTP_PASSWORD"


@dataclass
class NotifySummary:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def send_payment_links(
    engine: Engine,
    config: PayBridgeConfig,
    *,
    smtp: Callable[[str, int], Any] = smtplib.SMTP,
) -> NotifySummary:
    settings = config.notifications
    if not settings.enabled:
        raise ConfigError("[notifications] enabled = false: set it to true to e-mail payment links")
    if not config.api.public_url:
        raise ConfigError("[api] public_url is empty: payment links in e-mails need it")
    templates = Environment(
        loader=FileSystemLoader(settings.templates_dir or BUILT_IN_TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
    )
    summary = NotifySummary()
    todo = _pending(engine)
    if not todo:
        return summary
    with smtp(settings.smtp_host, settings.smtp_port) as server:
        if settings.smtp_starttls:
            server.starttls()
        if settings.smtp_user:
            server.login(settings.smtp_user, os.environ.get(PASSWORD_ENV, ""))
        for request, email in todo:
            message = _message(templates, config, request, email)
            try:
                server.send_message(message)
            except smtplib.SMTPException as exc:
                summary.failed[request.id] = f"{type(exc).__name__}: {exc}"
                continue
            with transaction(engine) as session:
                session.add(
                    PaymentNotification(
                        payment_id=request.id, to_address=email, sent_at=datetime.now(UTC)
                    )
                )
            summary.sent.append(request.id)
    return summary


def _pending(engine: Engine) -> list[tuple[PaymentRequest, str]]:
    sent = sa.exists().where(PaymentNotification.payment_id == PaymentRequest.id)
    query = (
        sa.select(PaymentRequest, Invoice.customer_email)
        .join(
            Invoice,
            sa.and_(
                Invoice.erp_system == PaymentRequest.erp_system,
                Invoice.company == PaymentRequest.company,
                Invoice.invoice_id == PaymentRequest.invoice_id,
            ),
        )
        .where(Invoice.customer_email.is_not(None), PaymentRequest.status == "new", ~sent)
        .order_by(PaymentRequest.created_at, PaymentRequest.id)
    )
    with transaction(engine) as session:
        return [(r, e) for r, e in session.execute(query) if e and "@" in e]


def _message(
    templates: Environment, config: PayBridgeConfig, request: PaymentRequest, email: str
) -> EmailMessage:
    chain = next((c.name for c in config.chains if c.chain_id == request.chain_id), "")
    context = {
        "merchant": config.merchant.name,
        "invoice_id": request.invoice_id,
        "invoice_amount": str(request.invoice_amount),
        "currency": request.currency,
        "amount": describe_amount(request.amount_due, request.asset_decimals, request.asset_symbol),
        "network": chain,
        "chain_id": request.chain_id,
        "address": request.deposit_address,
        "payment_url": f"{config.api.public_url.rstrip('/')}/pay/{request.id}",
        "expires_at": request.quote_expires_at.strftime("%Y-%m-%d %H:%M"),
    }
    message = EmailMessage()
    message["From"] = config.notifications.from_address
    message["To"] = email
    message["Subject"] = templates.get_template("subject.txt").render(context).strip()
    message.set_content(templates.get_template("body.txt").render(context))
    return message
