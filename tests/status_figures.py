"""One store state behind `paybridge status`, its metrics and the monitoring DAG: a chain 600
blocks behind (head 1000, cursor 400) and, with ``settlements``, one settlement pending for two
hours and one needing attention on ``netsuite_default``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from paybridge import settlement_outbox
from paybridge.domain.settlements import Application, Evidence, JournalLine, Settlement
from paybridge.store.db import transaction
from paybridge.store.models.chain import ChainCursor
from paybridge.store.models.outbox import SettlementOutboxRow


def settlement(settlement_id: str) -> Settlement:
    return Settlement(
        settlement_id=settlement_id,
        erp_system="netsuite",
        company="1",
        customer_id="C1",
        currency="USD",
        applications=(Application("INV-1", Decimal("10.00")),),
        payment_amount=Decimal("10.00"),
        journal_lines=(
            JournalLine("digital_asset", debit=Decimal("10.00"), memo="m", account_key="fi"),
            JournalLine("crypto_clearing", credit=Decimal("10.00"), memo="m"),
        ),
        evidence=Evidence(31337, ("0x" + "ab" * 32,), "1", "fixed"),
        ar_account="119",
    )


def seed_status_figures(engine: Engine, *, settlements: bool = True) -> datetime:
    """Write the state above; returns the time it was written at."""
    now = datetime.now(UTC)
    with transaction(engine) as session:
        session.add(
            ChainCursor(
                chain_id=31337,
                chain_name="anvil",
                next_block=401,
                range_size=100,
                head_block=1000,
                safe_block=990,
                finalized_block=950,
                updated_at=now - timedelta(minutes=1),
            )
        )
        if settlements:
            settlement_outbox.enqueue(session, settlement("pb-old"), "netsuite_default")
            settlement_outbox.enqueue(session, settlement("pb-stuck"), "netsuite_default")
    if settlements:
        with transaction(engine) as session:
            stuck = session.get(SettlementOutboxRow, "pb-stuck")
            old = session.get(SettlementOutboxRow, "pb-old")
            assert stuck is not None and old is not None
            stuck.status = "needs_attention"
            old.created_at = now - timedelta(hours=2)
    return now
