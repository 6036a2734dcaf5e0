"""Runs that fail loudly: refused work fails the run at once and mails an alert (captured by a
local SMTP server) naming the DAG, the task, what was refused and the next step."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from airflow_helpers import run_dag_test_with_tasks

from paybridge import settlement_outbox
from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from paybridge.store.db import create_engine_for, migrate, transaction
from simulators.netsuite import SEEDED_SETTLEMENT_ACCOUNTS, NetSuiteSimulator

pytestmark = pytest.mark.xdist_group("airflow")


class Inbox:
    def __init__(self) -> None:
        self.mails: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.mails.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def sim() -> Iterator[NetSuiteSimulator]:
    with NetSuiteSimulator() as simulator:
        yield simulator


def html_body(mail: Message) -> str:
    return "".join(
        part.get_payload(decode=True).decode()
        for part in mail.walk()
        if part.get_content_type() == "text/html"
    )


def _alert_env(port: int) -> dict[str, str]:
    smtp = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@example.com"},
    }
    return {
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
        "PAYBRIDGE_ALERT_EMAILS": "finance-ops@example.com",
    }


def test_refused_settlement_fails_the_run_and_mails_finance_ops(
    airflow_env: dict[str, str],
    sim: NetSuiteSimulator,
    inbox: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    mailbox, port = inbox
    netsuite = sim.airflow_connection(SEEDED_SETTLEMENT_ACCOUNTS)
    env = {
        "PAYBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'paybridge.db'}",
        "AIRFLOW_CONN_NETSUITE_DEFAULT": json.dumps(netsuite),
        **_alert_env(port),
    }
    [invoice_id] = sim.seed_invoices(1, amount=Decimal("250.00"))
    invoice = sim.account.transactions[invoice_id]
    engine = create_engine_for(env["PAYBRIDGE_DATABASE_URL"])
    migrate(engine)
    settlement = Settlement(
        settlement_id="pb-refused-1",
        erp_system="netsuite",
        company=str(invoice["subsidiary"]),
        customer_id=str(invoice["entity"]),
        currency="USD",
        applications=(Application("999999", Decimal("250.00")),),  # no such invoice
        payment_amount=Decimal("250.00"),
        journal_lines=(
            JournalLine(
                "digital_asset", debit=Decimal("250.00"), account_key="financial_instrument"
            ),
            JournalLine("crypto_clearing", credit=Decimal("250.00"), memo="clear"),
        ),
        evidence=Evidence(31337, ("0x" + "cd" * 32,), "1", "fixed"),
        ar_account="119",
    )
    with transaction(engine) as session:
        settlement_outbox.enqueue(session, settlement, "netsuite_default")

    started = time.monotonic()
    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_post_settlements.py", env)
    assert state == "failed", tasks
    assert tasks["post_settlements[0]"] == "failed"
    assert time.monotonic() - started < 300  # not retried (ERP retries wait minutes)
    assert settlement_outbox.status_counts(engine) == {"needs_attention": 1}
    assert sim.account.payments_by_external_id() == {}

    assert len(mailbox.mails) == 1
    mail = message_from_bytes(mailbox.mails[0])
    assert mail["To"] == "finance-ops@example.com"
    assert "paybridge_post_settlements" in mail["Subject"]
    assert "post_settlements" in mail["Subject"]
    body = html_body(mail)
    assert "pb-refused-1" in body and "need attention" in body
    assert "paybridge settlements requeue" in body


def test_missing_erp_connection_fails_without_retries(
    airflow_env: dict[str, str], inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    mailbox, port = inbox
    env = {
        "PAYBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'paybridge.db'}",
        **_alert_env(port),
    }
    started = time.monotonic()
    state, tasks = run_dag_test_with_tasks(airflow_env, "paybridge_erp_sync.py", env)
    assert state == "failed"
    assert tasks["sync_invoices[0]"] == "failed"
    assert tasks["every_connection_synced"] == "upstream_failed"
    assert time.monotonic() - started < 300  # the old retry settings replayed it for 618 s
    assert len(mailbox.mails) == 1
    body = html_body(message_from_bytes(mailbox.mails[0]))
    assert "netsuite_default" in body and "Not retried" in body
