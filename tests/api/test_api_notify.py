"""Payment-link e-mails captured by a real local SMTP server (aiosmtpd): one per new ERP
invoice request with a customer e-mail, the link, amount and address, nothing secret, a
per-merchant template, nothing sent twice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from paybridge_connectors.rates.fixed import FixedRateSource

from paybridge.config import ApiConfig, ConfigError, NotificationsConfig, load_config
from paybridge.config.merchant_keys import merchant_wallet
from paybridge.devchain import free_port
from paybridge.invoices import InvoiceRecord, store_invoices
from paybridge.notifications import send_payment_links
from paybridge.requests.service import create_payment_requests
from paybridge.store.db import transaction


class Capture:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _invoices(store) -> list[str]:  # type: ignore[no-untyped-def]
    config = load_config(None)
    records = [
        InvoiceRecord(
            "netsuite",
            "1",
            f"INV-{n}",
            "C1",
            Decimal("100.00"),
            "USD",
            date(2026, 12, 31),
            "anvil",
            "USDC",
            email,
        )
        for n, email in ((1, "ap@customer.example"), (2, None))
    ]
    rates = FixedRateSource({("USDC", "USD"): Decimal("1")})
    with transaction(store) as session:
        store_invoices(session, records, "test")
        made = create_payment_requests(
            session,
            records,
            config=config,
            rates_for_chain=lambda _c: rates,
            wallet=merchant_wallet(config, "anvil"),
            actor="test",
        )
    return [m.request.id for m in made]


def test_payment_links_are_mailed_once(sqlite_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _invoices(sqlite_store)
    capture = Capture()
    port = free_port()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        base = load_config(None)
        config = base.model_copy(
            update={
                "api": ApiConfig(public_url="https://pay.example.com"),
                "notifications": NotificationsConfig(
                    enabled=True, smtp_port=port, from_address="billing@merchant.example"
                ),
            }
        )
        summary = send_payment_links(sqlite_store, config)
        assert summary.sent == [ids[0]] and not summary.failed  # INV-2 has no e-mail
        (mail,) = capture.messages
        assert mail["To"] == "ap@customer.example" and "INV-1" in mail["Subject"]
        body = mail.get_payload()
        assert f"https://pay.example.com/pay/{ids[0]}" in body and "100.00 USDC" in body
        assert "xpub" not in body and "pbk_" not in body and "whsec_" not in body
        assert send_payment_links(sqlite_store, config).sent == []  # nothing twice

        templates = tmp_path / "acme"
        templates.mkdir()
        (templates / "subject.txt").write_text("ACME invoice {{ invoice_id }}")
        (templates / "body.txt").write_text("Pay {{ amount }} at {{ payment_url }}")
        with transaction(sqlite_store) as session:
            session.execute(sa.text("delete from payment_notifications"))
        acme = config.model_copy(
            update={
                "notifications": config.notifications.model_copy(
                    update={"templates_dir": str(templates)}
                )
            }
        )
        send_payment_links(sqlite_store, acme)
        assert capture.messages[-1]["Subject"] == "ACME invoice INV-1"
    finally:
        controller.stop()
    with pytest.raises(ConfigError, match="enabled"):
        send_payment_links(sqlite_store, base)
