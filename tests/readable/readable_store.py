"""A store seeded with the records finance ops read every day, with fixed ids and amounts so
the CLI's human output can be compared with golden files: USDC (6 decimals) and ETH (18
decimals, an amount above 2**63 base units) requests for USD, JPY and BHD invoices, exceptions
of each kind (an underpayment with its shortfall), resolutions, settlements in every state
(one for an ERP connection that was never configured) and audit entries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paybridge import audit
from paybridge.domain.audit_events import AuditEvent
from paybridge.store.models import Invoice, PaymentRequest
from paybridge.store.models.outbox import ErpSyncState, SettlementAttempt, SettlementOutboxRow
from paybridge.store.models.reconciliation import (
    ExceptionResolution,
    ReconException,
    ReconMatch,
    ReconRun,
)

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"  # USDC on Ethereum (chain id 1)
ETH_ABOVE_2_63 = 2**63 + 91_700_000_000_000_000  # 9.315... ETH in wei, more than an int64
TX_UNDER = "0x" + "ab" * 32
TX_OVER = "0x" + "cd" * 32
TX_UNKNOWN = "0x" + "ef" * 32
RUN = "run-20261102-0001"

#: (invoice id, customer, amount, currency, asset, decimals, rate, amount due, received)
REQUESTS = [
    ("INV-USD-0001", "ACME", "480.00", "USD", "USDC", 6, "1", 480_000_000, 440_000_000),
    ("INV-JPY-0002", "NIPPON", "1250000", "JPY", "ETH", 18, "1250000", 10**18, ETH_ABOVE_2_63),
    ("INV-BHD-0003", "MANAMA", "12.345", "BHD", "USDC", 6, "0.377", 32_745_359, 0),
]
REQUEST_IDS = [
    "pr_c381a5d2e0f94b7aa1c2d3e4",
    "pr_0b3e41693f2a4c1e8d7b6a59",
    "pr_77e0d1c2b3a4958677665544",
]
SETTLEMENTS = [  # (settlement id, request index, connection, state, reason)
    ("pb-pr_c381a5d2e0f94b7aa1c2d3e4", 0, "netsuite-prod", "posted", None),
    ("pb-pr_0b3e41693f2a4c1e8d7b6a59", 1, "sap-eu", "pending", None),
    ("pb-pr_77e0d1c2b3a4958677665544", 2, "", "needs_attention", "imported invoice: no ERP"),
]


def _request(index: int) -> PaymentRequest:
    invoice, customer, amount, currency, asset, decimals, rate, due, received = REQUESTS[index]
    return PaymentRequest(
        id=REQUEST_IDS[index],
        erp_system="netsuite",
        company="1",
        invoice_id=invoice,
        customer_id=customer,
        invoice_amount=Decimal(amount),
        currency=currency,
        due_date=date(2026, 12, 31),
        chain_id=1,
        asset_symbol=asset,
        asset_address=USDC if asset == "USDC" else None,
        asset_decimals=decimals,
        xpub_fingerprint="f" * 16,
        derivation_index=index,
        deposit_address=f"0x{index + 1:040x}",
        amount_due=due,
        rate_price=Decimal(rate),
        rate_source="fixed",
        rate_as_of=T0,
        quote_expires_at=T0 + timedelta(minutes=15),
        monitor_until=T0 + timedelta(days=1),
        payment_uri=f"ethereum:0x{index + 1:040x}@1",
        status=("expired", "completed", "new")[index],
        paid_partial=index == 0,
        paid_over=index == 1,
        amount_received=received,
        amount_confirmed=received,
        created_at=T0 + timedelta(minutes=index),
        updated_at=T0 + timedelta(minutes=index),
    )


def _exception(ident: str, reason: str, **fields: object) -> ReconException:
    values: dict = {
        "exception_id": ident,
        "queue_key": f"{reason}:{ident}",
        "reason": reason,
        "chain_id": 1,
        "tx_hash": None,
        "event_key": None,
        "asset": None,
        "from_address": None,
        "to_address": None,
        "amount": 0,
        "request_id": None,
        "customer_id": None,
        "remaining_due": None,
        "detail": "",
        "suggested_action": "",
        "status": "open",
        "first_run_id": RUN,
        "last_run_id": RUN,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return ReconException(**values)


def seed(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        for index, (invoice, customer, amount, currency, asset, *_rest) in enumerate(REQUESTS):
            session.add(
                Invoice(
                    erp_system="netsuite",
                    company="1",
                    invoice_id=invoice,
                    customer_id=customer,
                    amount=Decimal(amount),
                    currency=currency,
                    due_date=date(2026, 12, 31),
                    chain="ethereum",
                    asset_symbol=asset,
                    source="netsuite-prod",
                    imported_at=T0 - timedelta(days=1, minutes=-index),
                )
            )
            session.add(_request(index))
        session.add(
            ErpSyncState(
                connection="netsuite-prod", erp_system="netsuite", watermark=None, updated_at=T0
            )
        )
        session.add(
            ReconRun(
                run_id=RUN,
                started_at=T0,
                as_of=T0,
                actor="ops",
                engine_version="1",
                config_sha256="0" * 64,
                requests_sha256="0" * 64,
                receipts_sha256="0" * 64,
                rates_sha256="0" * 64,
                requests=3,
                receipts=3,
                matches=2,
                matches_auto=2,
                exceptions=3,
                completed=1,
                settlements_enqueued=1,
                awaiting_finality=0,
            )
        )
        session.flush()
        session.add(
            ReconMatch(
                run_id=RUN,
                request_id=REQUEST_IDS[0],
                chain_id=1,
                tx_hash=TX_UNDER,
                event_key="log:3",
                log_index=3,
                block_number=21_000_000,
                amount_applied=440_000_000,
                rule="exact_address",
                confidence="high",
                decision="auto",
                paid_late=False,
                fair_value="440.00",
                rate="1",
                rate_source="fixed",
                explanation="deposit address of the request; 40 USDC short",
            )
        )
        session.add_all(
            [
                _exception(
                    "EX-0b3e416a9c2d",
                    "UNDERPAID",
                    request_id=REQUEST_IDS[0],
                    customer_id="ACME",
                    remaining_due=40_000_000,
                    asset=USDC.lower(),
                    detail="received 440.00 of 480.00 USDC by the quote's expiry",
                    suggested_action="ask ACME for the rest, or write the shortfall off",
                ),
                _exception(
                    "EX-5f1d2c3b4a59",
                    "OVERPAYMENT",
                    request_id=REQUEST_IDS[1],
                    customer_id="NIPPON",
                    tx_hash=TX_OVER,
                    event_key="tx",
                    asset="native",
                    from_address="0x" + "12" * 20,
                    to_address="0x" + "0" * 39 + "2",
                    amount=ETH_ABOVE_2_63 - 10**18,
                    detail="paid more than due; the excess is unapplied",
                    suggested_action="refund the excess to the sender or keep it as credit",
                ),
                _exception(
                    "EX-9a8b7c6d5e4f",
                    "UNMATCHED_RECEIPT",
                    tx_hash=TX_UNKNOWN,
                    event_key="log:0",
                    asset=USDC.lower(),
                    from_address="0x" + "34" * 20,
                    to_address="0x" + "0" * 39 + "9",
                    amount=12_500_000,
                    detail="no request has this deposit address",
                    suggested_action="find the customer, then apply or refund",
                ),
            ]
        )
        session.flush()  # the foreign keys below need these rows first
        session.add(
            ExceptionResolution(
                resolution_id="RES-1a2b3c4d5e6f7a8b",
                exception_id="EX-5f1d2c3b4a59",
                action="refund",
                amount=ETH_ABOVE_2_63 - 10**18,
                request_id="",
                reason="customer asked",
                refund_address="0x" + "12" * 20,
                state="proposed",
                proposed_by="alice",
                proposed_at=T0 + timedelta(hours=1),
                decided_by="",
                decided_at=None,
                settlement_id=None,
            )
        )
        for settlement_id, index, connection, state, reason in SETTLEMENTS:
            invoice, customer, amount, currency, *_rest = REQUESTS[index]
            session.add(
                SettlementOutboxRow(
                    settlement_id=settlement_id,
                    idempotency_key=settlement_id,
                    erp_system="netsuite",
                    connection=connection,
                    company="1",
                    customer_id=customer,
                    currency=currency,
                    payment_amount=Decimal(amount),
                    payload=json.dumps({"applications": [[invoice, amount]]}),
                    status=state,
                    attempts=1 if state != "pending" else 0,
                    next_attempt_at=T0,
                    last_error=reason,
                    created_at=T0 + timedelta(minutes=index),
                    updated_at=T0 + timedelta(minutes=index),
                    posted_at=T0 if state == "posted" else None,
                    erp_payment_id="NS-PAY-77" if state == "posted" else None,
                )
            )
        session.flush()
        session.add(
            SettlementAttempt(
                settlement_id=SETTLEMENTS[0][0],
                attempt=1,
                worker="settle@host",
                started_at=T0,
                finished_at=T0,
                outcome="posted",
                detail="customer payment NS-PAY-77",
            )
        )
        audit.append(
            session,
            [
                AuditEvent(
                    "cli:alice",
                    "payment_request",
                    REQUEST_IDS[2],
                    "mark",
                    {"status": "pending"},
                    {"status": "invalid"},
                    "invoice cancelled",
                ),
                AuditEvent(
                    "alice",
                    "exception",
                    "EX-5f1d2c3b4a59",
                    "propose",
                    None,
                    {"action": "refund"},
                    "customer asked",
                ),
                AuditEvent(
                    "settle@host",
                    "settlement",
                    SETTLEMENTS[0][0],
                    "posted",
                    {"status": "posting"},
                    {"status": "posted"},
                ),
            ],
            at=T0 + timedelta(hours=2),
        )
